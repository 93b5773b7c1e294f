/* demo_tasks.c - the demo's directives and tasks: four directives of the City People's Committee and 62
 * tasks assigned under them to the city departments, the police and five ward People's Committees, each
 * taken through its history as of the demo's day, DB__DEMO_TASKS_DAY (the last month of the demo data):
 * done on time, done late, overdue, extended (approved, rejected, pending), cancelled, recurring monthly
 * reports, and tasks proved done by data (the share of dossiers filed fully online, ONLINE_DOSSIER_PCT,
 * reaching its target at a ward) or flagged when their deadline passed without it. The tasks are then
 * evaluated on the demo's cube and their statistics published as the TASK_* indicators for that month.
 *
 * Every deadline, done day and overdue span lies on Monday-to-Friday days clear of Vietnam's holidays, so
 * the statistics are the same with or without the holiday calendar in the store (the tests compute them
 * by hand). Wards are the first five units of kind ward in catalog order (90001..90005 in the generated
 * city), led by their People's Committees (PC_<code>). */
#include <string.h>

#include "base/err.h"
#include "base/mem.h"
#include "base/text.h"
#include "cube/cube.h"
#include "demo/demo_int.h"
#include "derive/derive.h"
#include "tasks/tasks.h"

#define WARDS 5

typedef struct demo_directive {
  const char *number, *date, *title;
} demo_directive;

static const demo_directive directives[] = {
    {"125/TB-VP", "2025-03-10",
     "Thông báo kết luận của Chủ tịch UBND Thành phố về đẩy nhanh tiến độ giải ngân vốn đầu tư công năm 2025"},
    {"2085/QĐ-UBND", "2025-06-20",
     "Quyết định ban hành Kế hoạch chuyển đổi số và phát triển chính quyền số Thành phố năm 2025"},
    {"45/CT-UBND", "2025-07-05",
     "Chỉ thị về tăng cường quản lý trật tự đô thị, vệ sinh môi trường sau sắp xếp đơn vị hành chính"},
    {"312/TB-VP", "2025-08-20", "Thông báo kết luận về công tác phòng, chống ngập và dịch bệnh mùa mưa năm 2025"},
};

/* One task and what happened to it by the demo's day. Outcome: N new, P in progress, D done, C cancelled.
 * ext: an extension asked for ext_deadline, A approved, R rejected, Q pending (0 none). A recurring task
 * lists the done days of its occurrences in `occ`. */
typedef struct demo_task {
  int directive; /* index, -1 for none */
  const char *title, *lead, *co;
  int ward; /* 1..WARDS: at that ward, led by its People's Committee when lead is NULL */
  const char *assigned, *deadline;
  int recur_day;
  int priority;
  char outcome;
  const char *started, *done;
  int percent;
  const char *ext_deadline;
  char ext;
  const char *condition;
  const char *occ[4];
} demo_task;

enum { L = DB_TASK_LOW, M = DB_TASK_NORMAL, H = DB_TASK_HIGH, U = DB_TASK_URGENT };

static const demo_task tasks[] = {
    /* Sở Tài chính */
    {0, "Rà soát, điều chuyển vốn các dự án chậm giải ngân", "DOF", "DOC", 0, "2025-03-15", "2025-06-30", 0, H, 'D',
     "2025-03-17", "2025-06-27", 100, NULL, 0, NULL, {0}},
    {0, "Báo cáo tình hình giải ngân vốn đầu tư công hằng tháng", "DOF", NULL, 0, "2025-07-01", NULL, 5, M, 'P',
     "2025-07-01", NULL, 0, NULL, 0, NULL, {"2025-07-07", "2025-08-08", "2025-09-05"}},
    {0, "Tham mưu phân bổ vốn ngân sách năm 2026", "DOF", "STATS", 0, "2025-09-01", "2025-11-28", 0, U, 'P',
     "2025-09-03", NULL, 40, NULL, 0, NULL, {0}},
    {0, "Đôn đốc giải ngân vốn đầu tư công đạt kế hoạch năm 2025", "DOF", "DOC;DOIT", 0, "2025-03-15", "2025-12-31",
     0, M, 'P', "2025-03-17", NULL, 70, NULL, 0, "100 * ytd(BUDGET_INVEST) / plan(BUDGET_INVEST) >= 95", {0}},
    {2, "Kiểm tra công tác quản lý tài sản công tại các phường sau sắp xếp", "DOF", NULL, 0, "2025-07-10",
     "2025-09-30", 0, M, 'D', "2025-07-14", "2025-10-03", 100, NULL, 0, NULL, {0}},
    {2, "Hướng dẫn thu, chi ngân sách sau sắp xếp đơn vị hành chính", "DOF", "PCO", 0, "2025-07-05", "2025-08-15", 0,
     H, 'D', "2025-07-07", "2025-08-14", 100, NULL, 0, NULL, {0}},
    {0, "Báo cáo quyết toán ngân sách năm 2024", "DOF", "STATS", 0, "2025-06-01", "2025-10-15", 0, M, 'P',
     "2025-06-02", NULL, 80, NULL, 0, NULL, {0}},
    {0, "Xây dựng đề án thu phí sử dụng tạm thời vỉa hè", "DOF", "DOC", 0, "2025-04-01", "2025-08-29", 0, L, 'C',
     NULL, NULL, 0, NULL, 0, NULL, {0}},
    /* Sở Công Thương */
    {-1, "Bảo đảm cung ứng hàng hóa thiết yếu dịp cuối năm", "DOIT", NULL, 0, "2025-09-15", "2025-12-15", 0, H, 'P',
     "2025-09-16", NULL, 30, NULL, 0, NULL, {0}},
    {-1, "Tổ chức chương trình kích cầu tiêu dùng tháng 9", "DOIT", NULL, 0, "2025-08-01", "2025-09-19", 0, M, 'D',
     "2025-08-04", "2025-09-19", 100, NULL, 0, NULL, {0}},
    {-1, "Báo cáo tình hình xuất khẩu và giải pháp hỗ trợ doanh nghiệp", "DOIT", "STATS", 0, "2025-08-20",
     "2025-09-26", 0, M, 'D', "2025-08-21", "2025-10-01", 100, NULL, 0, NULL, {0}},
    {-1, "Kiểm tra an toàn hệ thống điện mùa mưa bão", "DOIT", "POLICE", 0, "2025-08-25", "2025-10-10", 0, H, 'P',
     "2025-08-26", NULL, 60, NULL, 0, NULL, {0}},
    {1, "Phát triển thương mại điện tử cho hợp tác xã", "DOIT", "DOST", 0, "2025-06-25", "2025-10-30", 0, L, 'N',
     NULL, NULL, 0, NULL, 0, NULL, {0}},
    {-1, "Đề xuất cơ chế bình ổn giá mặt hàng thiết yếu", "DOIT", "DOF", 0, "2025-07-01", "2025-09-15", 0, M, 'D',
     "2025-07-02", "2025-09-12", 100, NULL, 0, NULL, {0}},
    /* Sở Nông nghiệp và Môi trường */
    {3, "Nạo vét, khơi thông kênh rạch trước mùa triều cường", "DAE", "DOC", 0, "2025-08-25", "2025-10-24", 0, U,
     'D', "2025-08-26", "2025-10-24", 100, NULL, 0, NULL, {0}},
    {3, "Rà soát các điểm ngập và phương án ứng phó", "DAE", "HYDROMET", 0, "2025-08-25", "2025-09-30", 0, H, 'D',
     "2025-08-26", "2025-10-08", 100, NULL, 0, NULL, {0}},
    {2, "Kiểm tra thu gom, vận chuyển chất thải rắn sinh hoạt", "DAE", NULL, 0, "2025-07-10", "2025-09-30", 0, M, 'D',
     "2025-07-11", "2025-10-24", 100, "2025-10-24", 'A', NULL, {0}},
    {2, "Xử lý điểm tập kết rác tự phát", "DAE", "POLICE", 0, "2025-07-10", "2025-10-10", 0, M, 'P', "2025-07-14",
     NULL, 50, "2025-11-28", 'R', NULL, {0}},
    {3, "Quan trắc chất lượng không khí tại các điểm nóng", "DAE", "HYDROMET", 0, "2025-08-25", "2025-12-15", 0, M,
     'P', "2025-08-26", NULL, 45, NULL, 0, NULL, {0}},
    {-1, "Báo cáo chất lượng môi trường hằng tháng", "DAE", NULL, 0, "2025-08-01", NULL, 10, L, 'P', "2025-08-01", NULL,
     0, NULL, 0, NULL, {"2025-08-08", "2025-09-10", "2025-10-10"}},
    {2, "Trồng mới cây xanh tại các tuyến đường sau sắp xếp", "DAE", "DOC", 0, "2025-07-10", "2025-10-17", 0, L, 'P',
     "2025-07-15", NULL, 65, NULL, 0, NULL, {0}},
    /* Sở Y tế */
    {3, "Phòng, chống sốt xuất huyết mùa mưa", "DOH", NULL, 0, "2025-08-25", "2025-10-31", 0, U, 'P', "2025-08-25",
     NULL, 75, NULL, 0, NULL, {0}},
    {3, "Kiểm tra an toàn thực phẩm bếp ăn tập thể", "DOH", "POLICE", 0, "2025-08-25", "2025-09-26", 0, H, 'D',
     "2025-08-26", "2025-09-26", 100, NULL, 0, NULL, {0}},
    {-1, "Báo cáo tình hình dịch bệnh hằng tuần", "DOH", NULL, 0, "2025-06-01", "2025-06-30", 0, M, 'D', "2025-06-02",
     "2025-06-30", 100, NULL, 0, NULL, {0}},
    {1, "Triển khai bệnh án điện tử tại bệnh viện tuyến thành phố", "DOH", "DOST", 0, "2025-06-25", "2025-09-30", 0,
     H, 'P', "2025-06-30", NULL, 85, "2025-12-31", 'A', NULL, {0}},
    {-1, "Rà soát nhân lực y tế cơ sở sau sắp xếp", "DOH", NULL, 0, "2025-07-10", "2025-09-19", 0, M, 'D',
     "2025-07-11", "2025-09-24", 100, NULL, 0, NULL, {0}},
    {-1, "Đề án trạm y tế phường kiểu mẫu", "DOH", NULL, 0, "2025-07-10", "2025-08-29", 0, L, 'C', NULL, NULL, 0, NULL,
     0, NULL, {0}},
    /* Sở Giáo dục và Đào tạo */
    {-1, "Bảo đảm chỗ học lớp 1 năm học 2025-2026", "DOET", NULL, 0, "2025-06-01", "2025-08-29", 0, U, 'D',
     "2025-06-02", "2025-08-29", 100, NULL, 0, NULL, {0}},
    {-1, "Kiểm tra cơ sở vật chất trường học trước năm học mới", "DOET", "DOC", 0, "2025-07-15", "2025-09-05", 0, H,
     'D', "2025-07-16", "2025-09-10", 100, NULL, 0, NULL, {0}},
    {1, "Số hóa hồ sơ học bạ điện tử", "DOET", "DOST", 0, "2025-06-25", "2025-12-31", 0, M, 'P', "2025-07-01", NULL,
     35, NULL, 0, NULL, {0}},
    {-1, "Báo cáo tổng kết năm học 2024-2025", "DOET", NULL, 0, "2025-06-01", "2025-07-31", 0, M, 'D', "2025-06-02",
     "2025-07-31", 100, NULL, 0, NULL, {0}},
    {3, "Phòng, chống dịch bệnh trong trường học mùa mưa", "DOET", "DOH", 0, "2025-08-25", "2025-10-15", 0, M, 'P',
     "2025-08-26", NULL, 90, NULL, 0, NULL, {0}},
    /* Sở Xây dựng */
    {0, "Hoàn thành giải phóng mặt bằng dự án đường Vành đai 2", "DOC", "DOF", 0, "2025-03-15", "2025-09-30", 0, U,
     'P', "2025-03-17", NULL, 70, "2025-12-15", 'A', NULL, {0}},
    {0, "Đẩy nhanh tiến độ các dự án chống ngập", "DOC", "DAE", 0, "2025-03-15", "2025-10-10", 0, H, 'P',
     "2025-03-17", NULL, 55, "2025-12-31", 'Q', NULL, {0}},
    {2, "Xử lý công trình xây dựng không phép", "DOC", "POLICE", 0, "2025-07-10", "2025-09-26", 0, M, 'D',
     "2025-07-11", "2025-09-26", 100, NULL, 0, NULL, {0}},
    {2, "Chỉnh trang vỉa hè các tuyến đường trung tâm", "DOC", NULL, 0, "2025-07-10", "2025-10-20", 0, M, 'P',
     "2025-07-14", NULL, 60, NULL, 0, NULL, {0}},
    {3, "Kiểm tra an toàn nhà chung cư cũ mùa mưa bão", "DOC", NULL, 0, "2025-08-25", "2025-09-15", 0, H, 'D',
     "2025-08-26", "2025-09-19", 100, NULL, 0, NULL, {0}},
    {0, "Báo cáo tiến độ các dự án trọng điểm", "DOC", NULL, 0, "2025-03-15", "2025-06-30", 0, M, 'D', "2025-03-17",
     "2025-06-27", 100, NULL, 0, NULL, {0}},
    {2, "Rà soát quy hoạch sau sắp xếp đơn vị hành chính", "DOC", "DAE", 0, "2025-07-10", "2025-11-14", 0, L, 'N',
     NULL, NULL, 0, NULL, 0, NULL, {0}},
    /* Sở Khoa học và Công nghệ */
    {1, "Vận hành Trung tâm điều hành đô thị thông minh", "DOST", "PCO", 0, "2025-06-25", "2025-09-30", 0, U, 'D',
     "2025-06-26", "2025-09-30", 100, NULL, 0, NULL, {0}},
    {1, "Kết nối dữ liệu các sở, ngành vào kho dữ liệu dùng chung", "DOST", "STATS", 0, "2025-06-25", "2025-10-15",
     0, H, 'D', "2025-06-26", "2025-10-20", 100, NULL, 0, NULL, {0}},
    {1, "Cung cấp dịch vụ công trực tuyến toàn trình", "DOST", "PCO", 0, "2025-06-25", "2025-12-31", 0, H, 'P',
     "2025-06-30", NULL, 60, NULL, 0, NULL, {0}},
    {1, "Bảo đảm an toàn thông tin hệ thống chính quyền số", "DOST", "POLICE", 0, "2025-06-25", "2025-08-29", 0, M,
     'D', "2025-06-26", "2025-08-29", 100, NULL, 0, NULL, {0}},
    {1, "Đào tạo kỹ năng số cho cán bộ phường, xã", "DOST", NULL, 0, "2025-06-25", "2025-10-29", 0, M, 'P',
     "2025-07-01", NULL, 70, NULL, 0, NULL, {0}},
    {1, "Triển khai nền tảng bản đồ số dùng chung", "DOST", "DOC", 0, "2025-06-25", "2025-10-01", 0, M, 'P',
     "2025-07-01", NULL, 40, NULL, 0, NULL, {0}},
    /* Công an Thành phố */
    {2, "Lập lại trật tự lòng đường, vỉa hè", "POLICE", "DOC", 0, "2025-07-10", "2025-09-30", 0, H, 'D',
     "2025-07-11", "2025-09-30", 100, NULL, 0, NULL, {0}},
    {2, "Bảo đảm trật tự an toàn giao thông dịp lễ Quốc khánh", "POLICE", NULL, 0, "2025-08-01", "2025-08-29", 0, U,
     'D', "2025-08-04", "2025-08-29", 100, NULL, 0, NULL, {0}},
    {-1, "Làm sạch dữ liệu dân cư phục vụ chuyển đổi số", "POLICE", "DOST", 0, "2025-06-25", "2025-09-12", 0, M, 'D',
     "2025-06-26", "2025-09-19", 100, NULL, 0, NULL, {0}},
    {3, "Phương án cứu nạn, cứu hộ mùa mưa bão", "POLICE", NULL, 0, "2025-08-25", "2025-09-26", 0, H, 'D',
     "2025-08-26", "2025-09-25", 100, NULL, 0, NULL, {0}},
    {-1, "Xử lý vi phạm tiếng ồn khu dân cư", "POLICE", "DAE", 0, "2025-09-01", "2025-10-30", 0, L, 'P', "2025-09-03",
     NULL, 20, NULL, 0, NULL, {0}},
    /* Văn phòng UBND Thành phố */
    {-1, "Tổng hợp báo cáo kinh tế - xã hội hằng tháng", "PCO", "STATS", 0, "2025-07-01", NULL, 25, H, 'P',
     "2025-07-01", NULL, 0, NULL, 0, NULL, {"2025-07-25", "2025-08-25", "2025-09-25", "2025-10-24"}},
    {-1, "Theo dõi, đôn đốc thực hiện nhiệm vụ được giao", "PCO", NULL, 0, "2025-07-01", "2025-12-31", 0, M, 'P',
     "2025-07-01", NULL, 80, NULL, 0, NULL, {0}},
    /* Ủy ban nhân dân phường */
    {1, "Nâng tỷ lệ hồ sơ trực tuyến toàn trình đạt 50%", NULL, "DOST", 1, "2025-07-10", "2025-12-31", 0, H, 'P',
     "2025-07-11", NULL, 50, NULL, 0, "ONLINE_DOSSIER_PCT >= 50", {0}},
    {2, "Ra quân tổng vệ sinh môi trường, khơi thông cống rãnh", NULL, "DAE", 1, "2025-07-10", "2025-09-12", 0, M, 'D',
     "2025-07-11", "2025-09-12", 100, NULL, 0, NULL, {0}},
    {1, "Nâng tỷ lệ hồ sơ trực tuyến toàn trình đạt 50%", NULL, "DOST", 2, "2025-07-10", "2025-12-31", 0, H, 'P',
     "2025-07-11", NULL, 50, NULL, 0, "ONLINE_DOSSIER_PCT >= 50", {0}},
    {2, "Sắp xếp chợ tạm, lấn chiếm lòng lề đường", NULL, "POLICE", 2, "2025-07-10", "2025-09-26", 0, M, 'D',
     "2025-07-11", "2025-10-03", 100, NULL, 0, NULL, {0}},
    {1, "Nâng tỷ lệ hồ sơ trực tuyến toàn trình đạt 50%", NULL, "DOST", 3, "2025-07-10", "2025-12-31", 0, H, 'P',
     "2025-07-11", NULL, 50, NULL, 0, "ONLINE_DOSSIER_PCT >= 50", {0}},
    {3, "Vận động người dân diệt lăng quăng, bọ gậy", NULL, "DOH", 3, "2025-08-25", "2025-10-10", 0, M, 'P',
     "2025-08-26", NULL, 70, NULL, 0, NULL, {0}},
    {1, "Đạt 99,5% hồ sơ trực tuyến toàn trình", NULL, "DOST", 4, "2025-07-10", "2025-10-15", 0, M, 'P', "2025-07-11",
     NULL, 80, NULL, 0, "ONLINE_DOSSIER_PCT >= 99.5", {0}},
    {2, "Cập nhật dữ liệu hộ kinh doanh sau sắp xếp", NULL, NULL, 4, "2025-07-10", "2025-09-30", 0, L, 'D',
     "2025-07-11", "2025-09-30", 100, NULL, 0, NULL, {0}},
    {1, "Đạt 99,5% hồ sơ trực tuyến toàn trình", NULL, "DOST", 5, "2025-07-10", "2025-10-15", 0, M, 'P', "2025-07-11",
     NULL, 80, NULL, 0, "ONLINE_DOSSIER_PCT >= 99.5", {0}},
    {2, "Xóa các điểm quảng cáo rao vặt trái phép", NULL, NULL, 5, "2025-07-10", "2025-10-31", 0, L, 'N', NULL, NULL,
     0, NULL, 0, NULL, {0}},
};
#define N_TASKS (sizeof tasks / sizeof *tasks)

static int64_t day_of(const char *iso) {
  int64_t d = DB_DATE_NONE;
  if (iso) db_parse_date(iso, strlen(iso), &d);
  return d;
}

/* Reports a problem of the task part of the demo (path "tasks") and returns code. */
static int problem(db__demo *dm, int code, const char *what, const db_diag *d) {
  db__demo_problem(dm, "tasks", 0, 0, code, "%s: %s%s%s", what, db_strerror(code), d && d->count ? ": " : "",
                   d && d->count ? d->items[0].message : "");
  return code;
}

/* Creates task k and plays its history. In the open transaction. */
static int play(db__demo *dm, const db_catalog *cat, const char *const *wards, size_t k, db_diag *d) {
  const demo_task *x = &tasks[k];
  char lead[80];
  snprintf(lead, sizeof lead, "PC_%s", x->ward ? wards[x->ward - 1] : "");
  db_task_spec s;
  db_task_spec_init(&s);
  s.directive = x->directive >= 0 ? directives[x->directive].number : NULL;
  s.title = x->title;
  s.lead = x->lead ? x->lead : lead;
  s.co_agencies = x->co;
  s.unit = x->ward ? wards[x->ward - 1] : NULL;
  s.assigned = day_of(x->assigned);
  s.deadline = day_of(x->deadline);
  s.recur_day = x->recur_day;
  s.priority = x->priority;
  s.condition = x->condition;
  s.condition_period = x->condition ? "2025" : NULL;
  s.indicators = x->condition ? (strstr(x->condition, "BUDGET") ? "BUDGET_INVEST" : "ONLINE_DOSSIER_PCT") : NULL;
  s.origin = "demo";
  int64_t id;
  int rc = db_tasks_create(dm->store, cat, &s, "lead", &id, d);
  if (!rc && x->ext && (rc = db_tasks_extension_request(dm->store, id, 0, day_of(x->ext_deadline),
                                                        "Vướng mắc về mặt bằng và nguồn vốn, đề nghị gia hạn", s.lead,
                                                        NULL, d)) == 0 &&
      x->ext != 'Q')
    rc = db_tasks_extension_decide(dm->store, id, 0, x->ext == 'A', x->ext == 'A' ? "Đồng ý gia hạn" : "Không đồng ý",
                                   "lead", d);
  if (!rc && x->outcome == 'C') rc = db_tasks_transition(dm->store, id, 0, "cancelled", day_of("2025-08-01"),
                                                         "Không còn phù hợp sau sắp xếp", "lead", NULL, d);
  if (!rc && x->started) rc = db_tasks_transition(dm->store, id, 0, "in_progress", day_of(x->started), NULL, s.lead,
                                                  NULL, d);
  for (size_t i = 0; !rc && i < 4 && x->occ[i]; i++)
    rc = db_tasks_transition(dm->store, id, 0, "done", day_of(x->occ[i]), NULL, s.lead, NULL, d);
  if (!rc && x->percent > 0 && x->percent < 100) {
    db_task_report_spec r = {x->percent, "Đang triển khai theo kế hoạch, đã hoàn thành phần lớn khối lượng.",
                             NULL, 0, NULL, 0};
    rc = db_tasks_report_add(dm->store, id, &r, s.lead, NULL, d);
  }
  if (!rc && x->outcome == 'D') rc = db_tasks_transition(dm->store, id, 0, "done", day_of(x->done), NULL, s.lead,
                                                         NULL, d);
  return rc;
}

/* The codes of the first WARDS units of kind ward (owned by cat). */
static size_t first_wards(const db_catalog *cat, const char **out) {
  size_t n = 0;
  for (size_t i = 0; i < cat->n_units && n < WARDS; i++)
    if (cat->units[i].kind == DB_OU_WARD && cat->units[i].valid_to == DB_DATE_NONE) out[n++] = cat->units[i].code;
  return n;
}

/* Evaluates the tasks on the demo's cube and publishes their statistics for the demo's day. */
static int evaluate_and_publish(db__demo *dm, db_catalog *cat, db_diag *d) {
  int changed = 0, rc = db_store_begin(dm->store, 0);
  if (!rc) {
    rc = db_tasks_ensure_catalog(dm->store, cat, &changed, d);
    rc = rc ? (db_store_rollback(dm->store), rc) : db_store_commit(dm->store);
  }
  if (rc) return problem(dm, rc, "the task indicators", d);
  db_catalog_free(cat);
  db_catalog_init(cat);
  if ((rc = db_store_load_catalog(dm->store, cat)) || (rc = db_catalog_link(cat, d))) return problem(dm, rc, "catalog", d);
  db_cube *cube = NULL;
  db_derive *e = NULL;
  if ((rc = db_cube_open(dm->store, cat, &cube, d)) || (rc = db_derive_open(cat, &e, d)) ||
      (rc = db_derive_load_targets(e, dm->store))) {
    db_derive_close(e);
    db_cube_close(cube);
    return problem(dm, rc, "the cube for evaluating tasks", d);
  }
  const db_cube_version *v = db_cube_acquire(cube);
  db_task_clock clk = {NULL, day_of(DB__DEMO_TASKS_DAY)};
  rc = db_store_begin(dm->store, 0);
  if (!rc) {
    rc = db_tasks_evaluate(dm->store, e, v, cat, &clk, "system", NULL, d);
    rc = rc ? (db_store_rollback(dm->store), rc) : db_store_commit(dm->store);
  }
  db_cube_release(v);
  db_derive_close(e);
  db_cube_close(cube);
  if (rc) return problem(dm, rc, "evaluating the tasks", d);
  db_ingest_result res;
  rc = db_tasks_publish_stats(dm->store, cat, &clk, "system", &res, d);
  if (!rc && res.seq) {
    dm->stats.sources++;
    dm->stats.observations += res.inserted + res.revised + res.unchanged;
  }
  db_ingest_result_free(&res);
  return rc ? problem(dm, rc, "publishing the task statistics", d) : 0;
}

int db__demo_tasks(db__demo *dm) {
  db_diag d = DB_DIAG_INIT;
  db_catalog cat;
  db_catalog_init(&cat);
  int rc = db_store_load_catalog(dm->store, &cat);
  if (!rc) rc = db_catalog_link(&cat, &d);
  const char *wards[WARDS];
  if (!rc && first_wards(&cat, wards) < WARDS) rc = db_diag_add(&d, 0, 0, NULL, DB_EINVAL, "fewer than 5 wards");
  if (rc) {
    problem(dm, rc, "catalog", &d);
    goto done;
  }
  if ((rc = db_store_begin(dm->store, 0))) goto done;
  for (size_t i = 0; !rc && i < sizeof directives / sizeof *directives; i++) {
    db_directive dv = {0, (char *)directives[i].number, day_of(directives[i].date), (char *)"UBND Thành phố",
                       (char *)directives[i].title};
    rc = db_tasks_directive_add(dm->store, &dv, "lead", &d);
  }
  for (size_t k = 0; !rc && k < N_TASKS; k++) {
    rc = play(dm, &cat, wards, k, &d);
    if (rc) problem(dm, rc, tasks[k].title, &d);
  }
  if (rc) {
    db_store_rollback(dm->store);
    goto done;
  }
  if ((rc = db_store_commit(dm->store))) goto done;
  db_diag_clear(&d);
  rc = evaluate_and_publish(dm, &cat, &d);
done:
  db_catalog_free(&cat);
  db_diag_free(&d);
  return rc;
}
