/* demo_catalog.c - the demo's agencies, indicators and 2025 targets, the same for the real pack and
 * the generated city.
 *
 * Indicators: every code of the list (CPI_YOY … AREA_KM2) plus further real series of the same
 * files, each with its Vietnamese and English name, unit, periodicity, aggregations, polarity, valid
 * range, owner, sector, groups, public flag and source (the pack file, row and column it comes from);
 * and the ward-level indicators that no real file has, generated, marked synthetic and not public.
 * Without a pack every indicator is generated: all are then marked synthetic with the source
 * "synthetic" (the indicators of real files stay public, so that an anonymous demo shows them).
 *
 * City targets for 2025: the CPI ceiling of the National Assembly's plan for 2025, and plans for flows
 * and year-to-date series computed from the 2024 data as it goes in (2024 × a growth factor). Those
 * computed plans are illustrative: their source string says so. Targets sit where the data is: the
 * national GSO series at VN, FDI and budget investment at 79. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/mem.h"
#include "demo/demo_int.h"

/* ---- agencies ---- */

typedef struct agency_def {
  const char *code, *name, *name_en, *kind, *orgunit, *parent;
} agency_def;

static const agency_def agencies[] = {
    {"NSO", "Cục Thống kê (Bộ Tài chính)", "National Statistics Office (Ministry of Finance)", "ministry",
     "VN", NULL},
    {"PC79", "Ủy ban nhân dân Thành phố Hồ Chí Minh", "Ho Chi Minh City People's Committee", "other", "79",
     NULL},
    {"PCO", "Văn phòng Ủy ban nhân dân Thành phố", "Office of the City People's Committee", "department",
     "79", "PC79"},
    {"STATS", "Thống kê Thành phố Hồ Chí Minh", "Ho Chi Minh City Statistics Office", "department", "79",
     "NSO"},
    {"DOF", "Sở Tài chính", "Department of Finance", "department", "79", "PC79"},
    {"DOIT", "Sở Công Thương", "Department of Industry and Trade", "department", "79", "PC79"},
    {"DAE", "Sở Nông nghiệp và Môi trường", "Department of Agriculture and Environment", "department", "79",
     "PC79"},
    {"DOH", "Sở Y tế", "Department of Health", "department", "79", "PC79"},
    {"DOET", "Sở Giáo dục và Đào tạo", "Department of Education and Training", "department", "79", "PC79"},
    {"DOC", "Sở Xây dựng", "Department of Construction", "department", "79", "PC79"},
    {"DOST", "Sở Khoa học và Công nghệ", "Department of Science and Technology", "department", "79", "PC79"},
    {"POLICE", "Công an Thành phố Hồ Chí Minh", "Ho Chi Minh City Police", "police", "79", NULL},
    {"HYDROMET", "Đài Khí tượng Thủy văn khu vực Nam Bộ", "Southern Regional Hydro-Meteorological Centre",
     "other", "79", NULL},
};

void db__demo_add_agencies(db__demo *dm) {
  for (size_t i = 0; i < sizeof agencies / sizeof agencies[0]; i++) {
    const agency_def *a = &agencies[i];
    db_agency ag = {0,
                    (char *)a->code,
                    (char *)a->name,
                    (char *)a->name_en,
                    (char *)a->kind,
                    (char *)a->orgunit,
                    (char *)a->parent};
    db_catalog_put_agency(&dm->cat, &ag);
  }
  /* One People's Committee per unit of 2025 (kind ward, commune or special zone). */
  db_buf code = DB_BUF_INIT, name = DB_BUF_INIT, name_en = DB_BUF_INIT;
  for (size_t i = 0; i < dm->cat.n_units; i++) {
    const db_orgunit *u = &dm->cat.units[i];
    if (u->kind != DB_OU_WARD && u->kind != DB_OU_COMMUNE && u->kind != DB_OU_SPECIAL_ZONE) continue;
    db_buf_clear(&code);
    db_buf_clear(&name);
    db_buf_clear(&name_en);
    db_buf_printf(&code, "PC_%s", u->code);
    db_buf_printf(&name, "Ủy ban nhân dân %s", u->name);
    db_buf_printf(&name_en, "People's Committee of %s", u->name_en ? u->name_en : u->name);
    db_agency ag = {0, code.data, name.data, name_en.data, "ward_committee", u->code, "PC79"};
    db_catalog_put_agency(&dm->cat, &ag);
  }
  db_buf_free(&code);
  db_buf_free(&name);
  db_buf_free(&name_en);
}

/* ---- indicators ---- */

typedef struct ind_def {
  const char *code, *name, *name_en, *unit;
  int unit_mult, decimals;
  db_period_type periodicity;
  db_agg agg_space, agg_time;
  db_polarity polarity;
  double valid_min, valid_max;
  const char *owner, *sector, *groups;
  int synthetic; /* generated in both modes (no real file has it) */
  const char *source, *description;
} ind_def;

#define GSO \
  "GSO monthly socio-economic report (via hiennguyen9874/vn-macroeconomics), macro/gso_monthly_national/"
#define WB "World Bank World Development Indicators (via datasets on GitHub), macro/"
#define AIR                                                                       \
  "HealthyAir hourly air quality, 6 HCMC stations (Mendeley Data pk6tzrjks8/1), " \
  "city_ops/hcmc_air_quality_healthyair_hourly_2021-2022.csv, column "
#define UNITS                                                              \
  "sapnhap.bando.com.vn attributes joined with GSO letter 1027/CTK-CSCL, " \
  "admin_units/hcmc_communes_2025-07-01.csv, column "
#define CPI_ROW(row, col) GSO "cpi.csv, row '" row "', column " col
#define SYN "synthetic"
#define U_BVND "billion VND"
#define U_MUSD "million USD"
#define UGM3 "µg/m³"
#define N NAN

static const ind_def indicators[] = {
    /* prices (GSO, Viet Nam, monthly) */
    {"CPI_YOY", "Chỉ số giá tiêu dùng so với cùng kỳ năm trước", "Consumer price index, year on year", "%", 0,
     2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, N, N, "STATS", "prices",
     "gso_monthly;prices;plan2025", 0, CPI_ROW("CHỈ SỐ GIÁ TIÊU DÙNG", "YOY"),
     "Change of the consumer price index (all items) against the same month of the previous year, Viet Nam."},
    {"CPI_MOM", "Chỉ số giá tiêu dùng so với tháng trước", "Consumer price index, month on month", "%", 0, 2,
     DB_PT_MONTH, DB_AGG_NONE, DB_AGG_NONE, DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("CHỈ SỐ GIÁ TIÊU DÙNG", "MOM"),
     "Change of the consumer price index (all items) against the previous month, Viet Nam."},
    {"CPI_AVG_YOY", "Chỉ số giá tiêu dùng bình quân từ đầu năm so với cùng kỳ",
     "Average consumer price index since January, year on year", "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE,
     DB_AGG_LAST, DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("CHỈ SỐ GIÁ TIÊU DÙNG", "YTD-YOY"),
     "Average CPI of the months since January against the same months of the previous year, Viet Nam."},
    {"CORE_INFL_YOY", "Lạm phát cơ bản so với cùng kỳ năm trước", "Core inflation, year on year", "%", 0, 2,
     DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("LẠM PHÁT CƠ BẢN", "YOY"),
     "Consumer prices without food, energy and administered prices, against the same month of the previous "
     "year."},
    {"GOLD_PRICE_YOY", "Chỉ số giá vàng so với cùng kỳ năm trước", "Gold price index, year on year", "%", 0,
     2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_NEUTRAL, N, N, "STATS", "prices", "gso_monthly;prices",
     0, CPI_ROW("CHỈ SỐ GIÁ VÀNG", "YOY"),
     "Domestic gold price index against the same month of the previous year."},
    {"USD_PRICE_YOY", "Chỉ số giá đô la Mỹ so với cùng kỳ năm trước", "US dollar price index, year on year",
     "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_NEUTRAL, N, N, "STATS", "prices",
     "gso_monthly;prices", 0, CPI_ROW("CHỈ SỐ GIÁ ĐÔ LA MỸ", "YOY"),
     "Domestic price of the US dollar against the same month of the previous year."},
    {"CPI_FOOD_YOY", "Chỉ số giá hàng ăn và dịch vụ ăn uống so với cùng kỳ",
     "CPI food and catering, year on year", "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, N,
     N, "STATS", "prices", "gso_monthly;prices", 0, CPI_ROW("Hàng ăn và dịch vụ ăn uống", "YOY"),
     "CPI group food and catering services, year on year."},
    {"CPI_HOUSING_YOY", "Chỉ số giá nhà ở và vật liệu xây dựng so với cùng kỳ",
     "CPI housing and construction materials, year on year", "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST,
     DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("Nhà ở và vật liệu xây dựng", "YOY"),
     "CPI group housing, electricity, water, fuel and construction materials, year on year."},
    {"CPI_TRANSPORT_YOY", "Chỉ số giá giao thông so với cùng kỳ", "CPI transport, year on year", "%", 0, 2,
     DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("Giao thông", "YOY"), "CPI group transport, year on year."},
    {"CPI_HEALTH_YOY", "Chỉ số giá thuốc và dịch vụ y tế so với cùng kỳ",
     "CPI medicines and health services, year on year", "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST,
     DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0, CPI_ROW("Thuốc và dịch vụ y tế", "YOY"),
     "CPI group medicines and health services, year on year."},
    {"CPI_EDUCATION_YOY", "Chỉ số giá giáo dục so với cùng kỳ", "CPI education, year on year", "%", 0, 2,
     DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_LOWER, N, N, "STATS", "prices", "gso_monthly;prices", 0,
     CPI_ROW("Giáo dục", "YOY"), "CPI group education, year on year."},
    /* production, trade, investment (GSO) */
    {"IIP_YOY", "Chỉ số sản xuất công nghiệp so với cùng kỳ", "Index of industrial production, year on year",
     "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST, DB_POL_HIGHER, N, N, "DOIT", "industry",
     "gso_monthly;industry", 0, GSO "iip.csv, row 'Toàn ngành công nghiệp', column YOY",
     "Industrial production of the month against the same month of the previous year, all industry, Viet "
     "Nam."},
    {"IIP_MFG_YOY", "Chỉ số sản xuất công nghiệp chế biến, chế tạo so với cùng kỳ",
     "Index of manufacturing production, year on year", "%", 0, 2, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_LAST,
     DB_POL_HIGHER, N, N, "DOIT", "industry", "gso_monthly;industry", 0,
     GSO "iip.csv, row 'Công nghiệp chế biến, chế tạo', column YOY",
     "Manufacturing production against the same month of the previous year, Viet Nam."},
    {"RETAIL_SALES", "Tổng mức bán lẻ hàng hóa và doanh thu dịch vụ tiêu dùng",
     "Retail sales of goods and consumer services", U_BVND, 9, 1, DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM,
     DB_POL_HIGHER, 0, N, "DOIT", "trade", "gso_monthly;trade;plan2025", 0,
     GSO "tongmuc.csv, row 'TỔNG SỐ', column M",
     "Retail sales of goods and consumer services of the month, current prices, Viet Nam."},
    {"RETAIL_GOODS", "Doanh thu bán lẻ hàng hóa", "Retail sales of goods", U_BVND, 9, 1, DB_PT_MONTH,
     DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, 0, N, "DOIT", "trade", "gso_monthly;trade", 0,
     GSO "tongmuc.csv, row 'Bán lẻ hàng hóa', column M",
     "Retail sales of goods of the month, current prices."},
    {"EXPORTS", "Kim ngạch xuất khẩu hàng hóa", "Merchandise exports", U_MUSD, 6, 1, DB_PT_MONTH, DB_AGG_SUM,
     DB_AGG_SUM, DB_POL_HIGHER, 0, N, "DOIT", "trade", "gso_monthly;trade;plan2025", 0,
     GSO "xk.csv, row 'TỔNG TRỊ GIÁ', column Total-M",
     "Value of merchandise exports of the month, Viet Nam."},
    {"IMPORTS", "Kim ngạch nhập khẩu hàng hóa", "Merchandise imports", U_MUSD, 6, 1, DB_PT_MONTH, DB_AGG_SUM,
     DB_AGG_SUM, DB_POL_NEUTRAL, 0, N, "DOIT", "trade", "gso_monthly;trade", 0,
     GSO "nk.csv, row 'TỔNG TRỊ GIÁ', column Total-M",
     "Value of merchandise imports of the month, Viet Nam."},
    {"FDI_REG", "Vốn đầu tư trực tiếp nước ngoài đăng ký (cộng dồn từ đầu năm)",
     "Registered foreign direct investment capital, year to date", U_MUSD, 6, 1, DB_PT_MONTH, DB_AGG_SUM,
     DB_AGG_LAST, DB_POL_HIGHER, N, N, "DOF", "investment", "gso_monthly;investment;plan2025", 0,
     GSO "fdi.csv, rows by province ('TP. Hồ Chí Minh' …) and 'TỔNG SỐ' (VN), column 'Vốn đăng ký'",
     "Newly registered and adjusted FDI capital from January to the month, by province, as the GSO publishes "
     "it "
     "(adjustments can make it negative)."},
    {"FDI_PROJECTS", "Số dự án đầu tư trực tiếp nước ngoài cấp mới (cộng dồn từ đầu năm)",
     "Newly licensed FDI projects, year to date", "projects", 0, 0, DB_PT_MONTH, DB_AGG_SUM, DB_AGG_LAST,
     DB_POL_HIGHER, 0, N, "DOF", "investment", "gso_monthly;investment", 0,
     GSO "fdi.csv, rows by province and 'TỔNG SỐ' (VN), column 'Số dự án'",
     "Newly licensed FDI projects from January to the month, by province."},
    {"BUDGET_INVEST", "Vốn đầu tư thực hiện từ nguồn ngân sách Nhà nước", "State-budget capital investment",
     U_BVND, 9, 1, DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, N, N, "DOF", "public_finance",
     "gso_monthly;investment;plan2025", 0,
     GSO "vdt.csv, rows by province ('TP. Hồ Chí Minh' …) and 'TỔNG SỐ' (VN), column Total-M",
     "Capital investment realised from the state budget in the month, by province."},
    {"GDP_GROWTH_YOY", "Tốc độ tăng tổng sản phẩm trong nước so với cùng kỳ", "GDP growth, year on year", "%",
     0, 2, DB_PT_QUARTER, DB_AGG_NONE, DB_AGG_NONE, DB_POL_HIGHER, N, N, "STATS", "macro",
     "gso_monthly;macro", 0, GSO "gdp_ss.csv, row 'TỔNG SỐ', column YOY",
     "GDP of the quarter at constant prices against the same quarter of the previous year."},
    /* World Bank, Viet Nam, annual */
    {"GDP_USD", "Tổng sản phẩm trong nước (USD theo giá hiện hành)", "GDP, current US$", "USD", 0, 0,
     DB_PT_YEAR, DB_AGG_SUM, DB_AGG_NONE, DB_POL_HIGHER, 0, N, "STATS", "macro", "wb;macro", 0,
     WB "wb_gdp_current_usd.csv, Country Code VNM, column Value",
     "Gross domestic product at current prices in US dollars."},
    {"POP", "Dân số (Ngân hàng Thế giới)", "Population, total (World Bank)", "persons", 0, 0, DB_PT_YEAR,
     DB_AGG_SUM, DB_AGG_LAST, DB_POL_NEUTRAL, 0, N, "STATS", "population", "wb;population", 0,
     WB "wb_population.csv, Country Code VNM, column Value", "Mid-year population of Viet Nam."},
    {"INFL_CPI", "Lạm phát theo giá tiêu dùng (Ngân hàng Thế giới)",
     "Inflation, consumer prices (World Bank)", "%", 0, 2, DB_PT_YEAR, DB_AGG_NONE, DB_AGG_NONE, DB_POL_LOWER,
     N, N, "STATS", "prices", "wb;prices", 0,
     WB "wb_inflation_consumer_prices_pct.csv, Country Code VNM, column Inflation",
     "Annual change of the consumer price index."},
    {"INFL_DEFLATOR", "Lạm phát theo chỉ số giảm phát GDP", "Inflation, GDP deflator (World Bank)", "%", 0, 2,
     DB_PT_YEAR, DB_AGG_NONE, DB_AGG_NONE, DB_POL_LOWER, N, N, "STATS", "prices", "wb;prices", 0,
     WB "wb_inflation_gdp_deflator_pct.csv, Country Code VNM, column Inflation",
     "Annual change of the GDP deflator."},
    /* air quality at the stations, hourly */
    {"PM25", "Nồng độ bụi PM2.5", "PM2.5 concentration", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_LOWER, 0, 2000, "DAE", "environment", "air", 0, AIR "PM2.5",
     "Fine particulate matter (below 2.5 µm), hourly mean."},
    {"NO2", "Nồng độ NO2", "Nitrogen dioxide concentration", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_LOWER, 0, 5000, "DAE", "environment", "air", 0, AIR "NO2", "Nitrogen dioxide, hourly mean."},
    {"O3", "Nồng độ O3", "Ozone concentration", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG, DB_POL_LOWER,
     0, 5000, "DAE", "environment", "air", 0, AIR "O3", "Ozone, hourly mean."},
    {"CO", "Nồng độ CO", "Carbon monoxide concentration", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_LOWER, 0, 100000, "DAE", "environment", "air", 0, AIR "CO", "Carbon monoxide, hourly mean."},
    {"SO2", "Nồng độ SO2", "Sulphur dioxide concentration", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_LOWER, 0, 5000, "DAE", "environment", "air", 0, AIR "SO2", "Sulphur dioxide, hourly mean."},
    {"TSP", "Tổng bụi lơ lửng", "Total suspended particles", UGM3, 0, 1, DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_LOWER, 0, 5000, "DAE", "environment", "air", 0, AIR "TSP",
     "Total suspended particles, hourly mean."},
    {"TEMP_C", "Nhiệt độ không khí tại trạm quan trắc", "Air temperature at the station", "°C", 0, 1,
     DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG, DB_POL_NEUTRAL, -10, 60, "DAE", "environment", "air;climate", 0,
     AIR "Temperature", "Air temperature measured at the air-quality station, hourly mean."},
    {"HUMIDITY", "Độ ẩm không khí tại trạm quan trắc", "Relative humidity at the station", "%", 0, 1,
     DB_PT_HOUR, DB_AGG_AVG, DB_AGG_AVG, DB_POL_NEUTRAL, 0, 100, "DAE", "environment", "air;climate", 0,
     AIR "Humidity", "Relative humidity measured at the air-quality station, hourly mean."},
    /* climate, health */
    {"RAIN_MM", "Lượng mưa", "Rainfall", "mm", 0, 1, DB_PT_MONTH, DB_AGG_NONE, DB_AGG_SUM, DB_POL_NEUTRAL, 0,
     3000, "HYDROMET", "environment", "climate", 0,
     "GSO statistical yearbook (via rorygibb/dengue_vietnam_ms), "
     "city_ops/vn_rainfall_mm_monthly_15stations_gso_2002-2019.csv, "
     "row 'Vung Tau'",
     "Monthly rainfall at the Vũng Tàu weather station (the only station of the file inside today's city)."},
    {"COVID_NEW", "Số ca mắc COVID-19 mới", "New COVID-19 cases", "cases", 0, 0, DB_PT_DAY, DB_AGG_SUM,
     DB_AGG_SUM, DB_POL_LOWER, N, N, "DOH", "health", "health;covid", 0,
     "JHU CSSE COVID-19 data, city_ops/vn_covid19_daily_cumulative_jhu_2020-01-22_2021-10-10.csv, column "
     "NewConfirmed",
     "New confirmed cases of the day, Viet Nam (a difference of cumulative counts: corrections can make it "
     "negative)."},
    {"COVID_DEATHS", "Số ca tử vong do COVID-19", "COVID-19 deaths", "deaths", 0, 0, DB_PT_DAY, DB_AGG_SUM,
     DB_AGG_SUM, DB_POL_LOWER, N, N, "DOH", "health", "health;covid", 0,
     "JHU CSSE COVID-19 data, city_ops/vn_covid19_daily_cumulative_jhu_2020-01-22_2021-10-10.csv, column "
     "NewDeaths",
     "Deaths of the day, Viet Nam (a difference of cumulative counts: corrections can make it negative)."},
    /* unit attributes */
    {"POPULATION", "Dân số", "Population", "persons", 0, 0, DB_PT_YEAR, DB_AGG_SUM, DB_AGG_LAST,
     DB_POL_NEUTRAL, 0, N, "STATS", "population", "units", 0, UNITS "population_bando",
     "Population of each unit of 2025 as published with the merger, and the city total."},
    {"AREA_KM2", "Diện tích tự nhiên", "Area", "km²", 0, 2, DB_PT_YEAR, DB_AGG_SUM, DB_AGG_LAST,
     DB_POL_NEUTRAL, 0, N, "STATS", "population", "units", 0, UNITS "area_km2_bando",
     "Natural area of each unit of 2025 and the city total (two source values that lost their decimal point, "
     "17956 and 33589, are read as 17.956 and 33.589)."},
    /* ward level, generated in both modes */
    {"SCHOOLS", "Số trường học (mầm non đến trung học phổ thông)", "Schools (pre-school to upper secondary)",
     "schools", 0, 0, DB_PT_MONTH, DB_AGG_SUM, DB_AGG_LAST, DB_POL_HIGHER, 0, N, "DOET", "education",
     "ward_panel", 1, SYN, "Generated: about one school per 4,200 inhabitants, growing slowly."},
    {"CLINICS", "Số cơ sở khám bệnh, chữa bệnh", "Health facilities", "facilities", 0, 0, DB_PT_MONTH,
     DB_AGG_SUM, DB_AGG_LAST, DB_POL_HIGHER, 0, N, "DOH", "health", "ward_panel", 1, SYN,
     "Generated: clinics and ward health stations, about one per 6,000 inhabitants."},
    {"OUTPATIENT_VISITS", "Lượt khám bệnh ngoại trú", "Outpatient visits", "visits", 0, 0, DB_PT_MONTH,
     DB_AGG_SUM, DB_AGG_SUM, DB_POL_NEUTRAL, 0, N, "DOH", "health", "ward_panel", 1, SYN,
     "Generated: about 0.35 visits per inhabitant a month, higher in the rainy season."},
    {"WASTE_COLLECTED", "Khối lượng chất thải rắn sinh hoạt được thu gom", "Household solid waste collected",
     "t", 0, 1, DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_NEUTRAL, 0, N, "DAE", "environment",
     "ward_panel;plan2025", 1, SYN, "Generated: about 0.95 kg per inhabitant a day."},
    {"BUILDING_PERMITS", "Số giấy phép xây dựng được cấp", "Building permits issued", "permits", 0, 0,
     DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_NEUTRAL, 0, N, "DOC", "construction", "ward_panel", 1, SYN,
     "Generated: about 0.4 permits per 1,000 inhabitants a month."},
    {"BUSINESS_REG", "Số doanh nghiệp thành lập mới", "New business registrations", "enterprises", 0, 0,
     DB_PT_MONTH, DB_AGG_SUM, DB_AGG_SUM, DB_POL_HIGHER, 0, N, "DOF", "business", "ward_panel;plan2025", 1,
     SYN, "Generated: about 3.5 new enterprises per 1,000 inhabitants a year, fewer around Tết."},
    {"TRAFFIC_ACCIDENTS", "Số vụ tai nạn giao thông", "Traffic accidents", "accidents", 0, 0, DB_PT_MONTH,
     DB_AGG_SUM, DB_AGG_SUM, DB_POL_LOWER, 0, N, "POLICE", "public_order", "ward_panel", 1, SYN,
     "Generated: about 2 accidents per 100,000 inhabitants a month."},
    {"ADMIN_ONTIME_PCT", "Tỷ lệ hồ sơ thủ tục hành chính giải quyết đúng hạn",
     "Administrative procedures resolved on time", "%", 0, 1, DB_PT_MONTH, DB_AGG_AVG, DB_AGG_AVG,
     DB_POL_HIGHER, 0, 100, "PCO", "administration", "ward_panel", 1, SYN,
     "Generated: share of dossiers resolved by their deadline."},
    {"ONLINE_DOSSIER_PCT", "Tỷ lệ hồ sơ trực tuyến toàn trình", "Dossiers submitted fully online", "%", 0, 1,
     DB_PT_MONTH, DB_AGG_AVG, DB_AGG_AVG, DB_POL_HIGHER, 0, 100, "DOST", "administration", "ward_panel", 1,
     SYN, "Generated: share of administrative dossiers handled fully online, rising over time."},
};

/* The demo's composite index (derive/derive.h): four pillars of the ward panel, each scored 0..1, weighted
 * to a 0..1 index. Plans of business registrations and waste collection exist per unit for 2025 only,
 * and the units of 2025 take data from 2025-07: the index has values from 2025-07 on. */
#define WARD_DEV_FORMULA                                                                              \
  "0.3 * goalpost(ADMIN_ONTIME_PCT, 80, 100) + 0.3 * goalpost(ONLINE_DOSSIER_PCT, 0, 100) + "          \
  "0.2 * minmax(BUSINESS_REG / plan(BUSINESS_REG)) + 0.2 * minmax(WASTE_COLLECTED / plan(WASTE_COLLECTED))"
#define WARD_DEV_DESCRIPTION                                                                                 \
  "Illustrative composite index of the wards, communes and special zone, computed from the generated ward " \
  "panel (synthetic, like its inputs). Pillars and weights: administrative procedures resolved on time "    \
  "(0.3; 80% scores 0, 100% scores 1), dossiers handled fully online (0.3; 0..100%), new business "           \
  "registrations of the month against the unit's 2025 plan (0.2; min-max across the units) and household "  \
  "waste collected against the unit's 2025 plan (0.2; min-max across the units). 0 is the weakest and 1 "    \
  "the strongest possible score."

void db__demo_add_indicators(db__demo *dm, int synthetic) {
  for (size_t i = 0; i < sizeof indicators / sizeof indicators[0]; i++) {
    const ind_def *d = &indicators[i];
    db_indicator ind;
    db_indicator_init(&ind);
    ind.code = (char *)d->code;
    ind.name = (char *)d->name;
    ind.name_en = (char *)d->name_en;
    ind.description = (char *)d->description;
    ind.unit = (char *)d->unit;
    ind.unit_mult = d->unit_mult;
    ind.decimals = d->decimals;
    ind.periodicity = d->periodicity;
    ind.agg_space = d->agg_space;
    ind.agg_time = d->agg_time;
    ind.polarity = d->polarity;
    ind.valid_min = d->valid_min;
    ind.valid_max = d->valid_max;
    ind.owner = (char *)d->owner;
    ind.sector = (char *)d->sector;
    ind.groups = (char *)d->groups;
    ind.is_public = !d->synthetic; /* the ward-level panel is made up: not open data */
    ind.synthetic = synthetic || d->synthetic;
    ind.source = (char *)(ind.synthetic ? SYN : d->source);
    db_catalog_put_indicator(&dm->cat, &ind);
  }
  db_indicator idx;
  db_indicator_init(&idx);
  idx.code = "WARD_DEV_INDEX";
  idx.name = "Chỉ số phát triển phường, xã (minh họa)";
  idx.name_en = "Ward development index (illustrative)";
  idx.description = WARD_DEV_DESCRIPTION;
  idx.unit = "index 0-1";
  idx.decimals = 3;
  idx.periodicity = DB_PT_MONTH;
  idx.agg_space = DB_AGG_AVG;
  idx.agg_time = DB_AGG_AVG;
  idx.polarity = DB_POL_HIGHER;
  idx.valid_min = 0;
  idx.valid_max = 1;
  idx.owner = "DOST";
  idx.sector = "administration";
  idx.groups = "ward_panel;index";
  idx.formula = WARD_DEV_FORMULA;
  idx.synthetic = 1; /* its inputs are generated */
  idx.source = SYN;
  db_catalog_put_indicator(&dm->cat, &idx);
}

/* ---- targets ---- */

typedef enum basis { FIXED, SUM2024, LAST2024 } basis;

typedef struct city_target_def {
  const char *indicator, *orgunit, *kind;
  basis basis;
  double value; /* FIXED: the value; else the factor applied to the 2024 basis */
  const char *source;
} city_target_def;

#define PLAN_SOURCE(pct)                                                 \
  "Demo plan 2025 computed by the demo loader as the 2024 actual + " pct \
  " (illustrative, not an official "                                     \
  "target)"

static const city_target_def city_targets[] = {
    {"CPI_YOY", "VN", "threshold", FIXED, 4.5,
     "Nghị quyết 158/2024/QH15 về Kế hoạch phát triển kinh tế - xã hội năm 2025 (CPI tăng khoảng 4,5%)"},
    {"RETAIL_SALES", "VN", "plan", SUM2024, 1.12, PLAN_SOURCE("12%")},
    {"EXPORTS", "VN", "plan", SUM2024, 1.12, PLAN_SOURCE("12%")},
    {"FDI_REG", "79", "plan", LAST2024, 1.10, PLAN_SOURCE("10% (December year-to-date value)")},
    {"BUDGET_INVEST", "79", "plan", SUM2024, 1.15, PLAN_SOURCE("15%")},
    {"BUDGET_INVEST", "VN", "plan", SUM2024, 1.15, PLAN_SOURCE("15%")},
};

size_t db__demo_city_target_count(void) { return sizeof city_targets / sizeof city_targets[0]; }

void db__demo_tally(db__demo *dm, const char *indicator, const char *orgunit, const char *period,
                    double value) {
  if (strncmp(period, "2024", 4) != 0) return;
  for (size_t i = 0; i < db__demo_city_target_count(); i++) {
    const city_target_def *t = &city_targets[i];
    if (t->basis == FIXED || strcmp(t->indicator, indicator) != 0 || strcmp(t->orgunit, orgunit) != 0)
      continue;
    db__demo_count *ty = &dm->tallies[i];
    ty->sum2024 += value;
    ty->n2024++;
    if (strcmp(period, ty->last_period) > 0) {
      snprintf(ty->last_period, sizeof ty->last_period, "%s", period);
      ty->last2024 = value;
    }
  }
}

void db__demo_add_target(db__demo *dm, const char *indicator, const char *orgunit, const char *period,
                         const char *kind, double value, const char *source) {
  if (dm->n_targets == dm->cap_targets) {
    dm->cap_targets = dm->cap_targets ? 2 * dm->cap_targets : 64;
    dm->targets = db_realloc(dm->targets, dm->cap_targets * sizeof *dm->targets);
  }
  db_target t = {(char *)indicator, (char *)orgunit, (char *)period, (char *)kind, value, (char *)source};
  db_target_copy(&dm->targets[dm->n_targets++], &t);
}

/* value rounded to the decimals of the indicator `code` (2 when unknown). */
static double round_for(const db__demo *dm, const char *code, double value) {
  const db_indicator *ind = db_catalog_indicator(&dm->cat, code);
  double scale = pow(10, ind ? ind->decimals : 2);
  return round(value * scale) / scale;
}

void db__demo_city_targets(db__demo *dm) {
  for (size_t i = 0; i < db__demo_city_target_count(); i++) {
    const city_target_def *t = &city_targets[i];
    const db__demo_count *ty = &dm->tallies[i];
    double v = t->value;
    if (t->basis != FIXED) {
      if (ty->n2024 == 0) continue; /* no 2024 data (a file was missing): no basis for a plan */
      v = round_for(dm, t->indicator, (t->basis == SUM2024 ? ty->sum2024 : ty->last2024) * t->value);
    }
    db__demo_add_target(dm, t->indicator, t->orgunit, "2025", t->kind, v, t->source);
  }
}
