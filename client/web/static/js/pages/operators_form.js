// Shared by the operator pages: a form's values and its errors shown next to their fields.

import { toastError } from "../toast.js";

export function values(form) {
  return Object.fromEntries(new FormData(form).entries());
}

export function clearErrors(form) {
  for (const slot of form.querySelectorAll(".field-error")) slot.textContent = "";
}

export function showFieldError(form, err) {
  const slot = err.field && form.querySelector(`[data-error-for="${err.field}"]`);
  if (slot) slot.textContent = err.message;
  else toastError(err);
}
