// api.js - the dashboard's only way to the server: same-origin fetch with the session cookie, the CSRF
// header on unsafe methods, and RFC 9457 problems turned into ApiError (with every listed error).

let csrf = "";

/** Remembers the CSRF token of the session (from the login answer or GET /api/v1/me). */
export function setCsrf(token) { csrf = token || ""; }

export class ApiError extends Error {
  constructor(status, problem) {
    const errs = (problem && problem.errors) || [];
    const detail = (problem && (problem.detail || problem.title)) || `HTTP ${status}`;
    super(errs.length ? `${detail}: ${errs.map((e) => (e.path ? `${e.path}: ` : "") + e.message).join("; ")}` : detail);
    this.status = status;
    this.problem = problem;
  }
}

/** Sends a request to the API; resolves to the parsed JSON (null for 204), rejects with ApiError. */
export async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: "same-origin" };
  if (method !== "GET" && method !== "HEAD") {
    if (csrf) headers["X-CSRF-Token"] = csrf;
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const res = await fetch(path, init);
  const type = res.headers.get("Content-Type") || "";
  const data = res.status === 204 ? null : type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) throw new ApiError(res.status, typeof data === "object" ? data : { detail: data });
  return data;
}

export const get = (path) => api("GET", path);

/** A query string from an object, skipping null and undefined values. */
export function qs(params) {
  const u = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") u.set(k, v);
  return u.toString();
}
