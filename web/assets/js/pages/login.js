// login.js - the login form: POST /api/v1/login sets the session cookie (HttpOnly) and answers the CSRF
// token that every later unsafe request carries.
import { api } from "../api.js";
import { h, fill } from "../dom.js";
import { lang, setLang, t } from "../i18n.js";

export function render({ onLogin }) {
  const msg = h("div.msg", { role: "status" });
  const name = h("input#login-name", { name: "name", autocomplete: "username", required: true });
  const pass = h("input#login-password", { name: "password", type: "password", autocomplete: "current-password", required: true });
  const form = h("form.login", { on: { submit } },
    h("h1", t("app_title")), h("p.sub", t("login_intro")),
    h("label", t("login_name"), name), h("label", t("login_password"), pass),
    h("button#login-submit", { type: "submit" }, t("login_submit")), msg,
    h("button.link", { type: "button", on: { click: () => { setLang(lang() === "vi" ? "en" : "vi"); fill(form.parentNode, render({ onLogin })); } } },
      t("switch_language")));
  async function submit(ev) {
    ev.preventDefault();
    fill(msg);
    try {
      onLogin(await api("POST", "/api/v1/login", { name: name.value, password: pass.value }));
    } catch (e) {
      fill(msg, h("span.error", e.status === 401 ? t("login_failed") : e.message));
    }
  }
  return h("div.login-wrap", form);
}
