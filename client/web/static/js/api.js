// The one module that knows how to talk to the embedded server: CSRF header, JSON, and
// the error shape {ok: false, error: {code, message, field, row}}.

const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content ?? "";

export class ApiError extends Error {
  constructor(status, error) {
    super(error?.message || `请求失败（${status}）`);
    this.status = status;
    this.code = error?.code ?? "http_" + status;
    this.field = error?.field ?? null;
    this.row = error?.row ?? null;
  }
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  if (!type.includes("application/json")) {
    if (response.ok) return response;
    throw new ApiError(response.status, { message: `请求失败（${response.status}）` });
  }
  const body = await response.json();
  if (!response.ok || body.ok === false) throw new ApiError(response.status, body.error);
  return body;
}

export async function request(method, url, { json, form, signal, raw = false } = {}) {
  const headers = { Accept: "application/json" };
  let body;
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  let response;
  try {
    response = await fetch(url, { method, headers, body, signal, credentials: "same-origin" });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, { code: "offline", message: "无法连接到本机服务，请重新启动 socialfee" });
  }
  return raw ? response : parse(response);
}

export const get = (url, options) => request("GET", url, options);
export const post = (url, json, options = {}) => request("POST", url, { ...options, json });
export const put = (url, json, options = {}) => request("PUT", url, { ...options, json });

// A write whose 2xx answer says itself whether it went through (a payment refused by the tax
// side or still unsure answers {"ok": false, "message", ...}): that body is returned, not thrown.
export async function postOutcome(url, json) {
  const response = await request("POST", url, { json, raw: true });
  const type = response.headers.get("content-type") || "";
  if (!response.ok || !type.includes("application/json")) return parse(response);
  return response.json();
}

// Download a file produced by a POST (exports), keeping the server's file name.
export async function download(url, json) {
  const response = await request("POST", url, { json });
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const match = /filename\*=UTF-8''([^;]+)/i.exec(disposition) || /filename="?([^";]+)"?/i.exec(disposition);
  const name = match ? decodeURIComponent(match[1]) : "export.xlsx";
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  return name;
}

export { csrfToken };

export const endpoints = {
  jobs: (query = "") => `/api/jobs${query}`,
  job: (id) => `/api/jobs/${encodeURIComponent(id)}`,
  jobCancel: (id) => `/api/jobs/${encodeURIComponent(id)}/cancel`,
  settings: "/api/system/settings",
  settingsReset: "/api/system/settings/reset",
  audit: "/api/system/audit",
  auditExport: "/api/system/audit/export",
  dataCheck: "/api/system/check",
  about: "/api/system/about",
  backups: "/api/backup",
  backupCreate: "/api/backup/create",
  backupVerify: "/api/backup/verify",
  backupPreview: "/api/backup/preview",
  backupRestore: "/api/backup/restore",
  backupUpload: "/api/backup/upload",
  backupSettings: "/api/backup/settings",
  backupForgetPassword: "/api/backup/password/forget",
  backupPauseClear: "/api/backup/pause/clear",
  handover: "/api/handover",
  handoverSettle: "/api/handover/settle",
  handoverBackup: "/api/handover/backup",
  handoverPrint: "/api/handover/print",
  handoverCompare: "/api/handover/compare",
  handoverReceipt: "/api/handover/receipt",
  session: "/api/session",
  taxpayer: "/api/session/taxpayer",
  login: "/api/session/login",
  offline: "/api/session/offline",
  changeInitial: "/api/session/change-initial",
  registration: "/api/session/registration",
  confirm: "/api/session/confirm",
  logout: "/api/session/logout",
  units: "/api/units",
  unitRemove: (id) => `/api/units/${encodeURIComponent(id)}/remove`,
  unlock: "/api/lock/unlock",
  notices: "/api/notices",
  noticeRead: (id) => `/api/notices/${encodeURIComponent(id)}/read`,
  noticePopups: "/api/notices/popups",
  noticesRefresh: "/api/notices/refresh",
  unitRefresh: "/api/unit/refresh",
  rulesRefresh: "/api/rules/refresh",
  declarationPassword: "/api/unit/password",
  loginPassword: "/api/local-password",
  loginPasswordClear: "/api/local-password/clear",
  enrollment: "/api/enrollment",
  enrollmentEmployee: (id) => `/api/enrollment/employees/${encodeURIComponent(id)}`,
  enrollmentSync: "/api/enrollment/sync",
  enrollmentExport: "/api/enrollment/export",
  enrollmentChanges: "/api/enrollment/changes",
  enrollmentChangesExport: "/api/enrollment/changes/export",
  wageBase: (kind) => `/api/wage-base/${kind}`,
  wageBaseRows: (kind) => `/api/wage-base/${kind}/rows`,
  wageBaseRow: (kind, id) => `/api/wage-base/${kind}/rows/${encodeURIComponent(id)}`,
  wageBaseAdd: (kind) => `/api/wage-base/${kind}/add`,
  wageBaseBatch: (kind) => `/api/wage-base/${kind}/batch`,
  wageBaseDelete: (kind) => `/api/wage-base/${kind}/delete`,
  wageBaseExport: (kind) => `/api/wage-base/${kind}/export`,
  wageBaseTemplate: (kind) => `/api/wage-base/${kind}/template`,
  wageBaseInsured: (kind) => `/api/wage-base/${kind}/insured`,
  wageBaseImport: (kind) => `/api/wage-base/${kind}/import`,
  wageBaseImportReport: (kind) => `/api/wage-base/${kind}/import-report`,
  wageBaseSubmit: (kind) => `/api/wage-base/${kind}/submit`,
  wageBaseFixMonths: "/api/wage-base/daily/fix-months",
  wageBaseCollapseItems: (kind) => `/api/wage-base/${kind}/collapse-items`,
  wageBaseRecords: "/api/wage-base/records",
  wageBaseReasons: (id) => `/api/wage-base/records/${encodeURIComponent(id)}/reasons`,
  wageBaseFeedback: "/api/wage-base/records/feedback",
  wageBaseSend: "/api/wage-base/records/send",
  wageBaseCopyBack: (id) => `/api/wage-base/records/${encodeURIComponent(id)}/copy-back`,
  feeSummaries: (kind) => `/api/fee-declaration/${kind}`,
  feeSummariesRefresh: (kind) => `/api/fee-declaration/${kind}/refresh`,
  feeSummaryDetails: (id) => `/api/fee-declaration/summaries/${encodeURIComponent(id)}/details`,
  feeCheck: "/api/fee-declaration/check",
  feeCheckExport: "/api/fee-declaration/check/export",
  feeSubmit: "/api/fee-declaration/submit",
  feeRecords: "/api/fee-declaration/records",
  feeRecordsSync: "/api/fee-declaration/records/sync",
  feeFeedback: "/api/fee-declaration/records/feedback",
  feeSend: "/api/fee-declaration/records/send",
  feeVoid: (id) => `/api/fee-declaration/records/${encodeURIComponent(id)}/void`,
  homeStatus: "/api/home/status",
  homeCharts: "/api/home/charts",
  paymentArrears: "/api/payment/arrears",
  paymentRefresh: "/api/payment/arrears/refresh",
  paymentSelection: "/api/payment/arrears/selection",
  paymentAgreements: "/api/payment/agreements",
  paymentDebits: "/api/payment/debits",
  paymentVouchers: "/api/payment/vouchers",
  paymentVouchersSync: "/api/payment/vouchers/sync",
  paymentVoucherPrint: (id) => `/api/payment/vouchers/${encodeURIComponent(id)}/print`,
  paymentVoucherPdf: (id) => `/api/payment/vouchers/${encodeURIComponent(id)}/pdf`,
  paymentVoucherOpen: (id) => `/api/payment/vouchers/${encodeURIComponent(id)}/open`,
  paymentVoucherVoid: (id) => `/api/payment/vouchers/${encodeURIComponent(id)}/void`,
  paymentRecords: "/api/payment/records",
  paymentRecordsSync: "/api/payment/records/sync",
  paymentRecordsExport: "/api/payment/records/export",
  paymentAlerts: "/api/payment/alerts",
  certificatePreview: "/api/certificate/preview",
  certificatePrint: "/api/certificate/print",
  certificateExport: "/api/certificate/export",
  certificateVerify: "/api/certificate/verify",
  certificateRecords: "/api/certificate/records",
  certificateEmployees: "/api/certificate/employees",
  certificatePdf: (name) => `/api/certificate/pdf/${encodeURIComponent(name)}`,
  certificateOpen: (name) => `/api/certificate/pdf/${encodeURIComponent(name)}/open`,
  annuityPreview: "/api/payment/annuity/preview",
  annuityPrint: "/api/payment/annuity/print",
  agencyUnits: "/api/agency/units",
  agencyBatch: "/api/agency/batch",
  agencyBatchState: (id) => `/api/agency/batch/${encodeURIComponent(id)}`,
  agencySwitch: "/api/agency/switch",
};
