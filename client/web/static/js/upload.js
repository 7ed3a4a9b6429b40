// File picker for imports: choose or drop a file, then upload it with a progress bar.
// The server answers with the usual JSON shape; errors keep their row and field.

import { ApiError, csrfToken } from "./api.js";

export class FileUpload {
  constructor(container, { endpoint, accept = "", label = "选择文件", fields = () => ({}), onUploaded = () => {}, onError = () => {} }) {
    Object.assign(this, { container, endpoint, fields, onUploaded, onError });
    this.container.classList.add("file-upload");
    this.input = document.createElement("input");
    this.input.type = "file";
    this.input.accept = accept;
    this.input.hidden = true;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "btn";
    button.textContent = label;
    button.addEventListener("click", () => this.input.click());
    this.name = document.createElement("span");
    this.name.className = "file-name";
    this.name.textContent = "也可以把文件拖到这里";
    this.bar = document.createElement("progress");
    this.bar.hidden = true;
    this.bar.max = 1;
    this.input.addEventListener("change", () => this.input.files[0] && this.upload(this.input.files[0]));
    this.container.addEventListener("dragover", (e) => {
      e.preventDefault();
      this.container.classList.add("dragging");
    });
    this.container.addEventListener("dragleave", () => this.container.classList.remove("dragging"));
    this.container.addEventListener("drop", (e) => {
      e.preventDefault();
      this.container.classList.remove("dragging");
      if (e.dataTransfer.files[0]) this.upload(e.dataTransfer.files[0]);
    });
    this.container.replaceChildren(button, this.name, this.bar, this.input);
  }

  upload(file) {
    this.name.textContent = file.name;
    const form = new FormData();
    form.append("file", file);
    for (const [k, v] of Object.entries(this.fields())) form.append(k, v);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", this.endpoint);
    xhr.setRequestHeader("X-CSRF-Token", csrfToken);
    xhr.setRequestHeader("Accept", "application/json");
    this.bar.hidden = false;
    this.bar.value = 0;
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable) this.bar.value = e.loaded / e.total;
    });
    return new Promise((resolve) => {
      xhr.addEventListener("load", () => {
        this.bar.hidden = true;
        let body = null;
        try {
          body = JSON.parse(xhr.responseText);
        } catch {
          body = null;
        }
        if (xhr.status < 400 && body?.ok !== false) {
          this.onUploaded(body, file);
        } else {
          this.onError(new ApiError(xhr.status, body?.error));
        }
        this.input.value = "";
        resolve();
      });
      xhr.addEventListener("error", () => {
        this.bar.hidden = true;
        this.onError(new ApiError(0, { message: "上传失败：无法连接到本机服务" }));
        resolve();
      });
      xhr.send(form);
    });
  }
}
