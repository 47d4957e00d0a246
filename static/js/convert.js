// The convert page: a station for barcode scanners (templates/conversion/convert.html).
// A scanner types the code and presses Enter: the form is posted with fetch(), the answer's
// card replaces the last one, the field is cleared and keeps the focus for the next scan,
// and the scan joins this tab's running list (sessionStorage), which exports as CSV.
// Scans are sent one after another, in the order they were made, however fast they come.
(() => {
  const form = document.getElementById("scan-form");
  if (!form) return;
  const input = form.elements.namedItem("fnsku");
  const labelInput = form.elements.namedItem("label_text");
  const resultBox = document.getElementById("scan-result");
  const tbody = document.querySelector("#scan-list tbody");
  const emptyNote = document.getElementById("scan-list-empty");
  const count = document.getElementById("scan-count");
  const feedbackUrl = form.dataset.feedbackUrl;
  const resolved = Number(form.dataset.resolved) || 0.9;
  const STORE = "fnsku-scans";

  const load = () => {
    try {
      return JSON.parse(sessionStorage.getItem(STORE) || "[]");
    } catch {
      return [];
    }
  };
  const save = (scans) => sessionStorage.setItem(STORE, JSON.stringify(scans));
  const band = (scan) =>
    scan.status === "barcode" ? "high" : scan.confidence === null ? "error" : scan.confidence >= resolved ? "high" : scan.confidence >= 0.5 ? "medium" : "low";

  const render = () => {
    const scans = load();
    tbody.replaceChildren(
      ...scans
        .slice()
        .reverse()
        .map((scan) => {
          const row = document.createElement("tr");
          row.className = band(scan);
          const cells = [
            new Date(scan.at).toLocaleTimeString(),
            scan.fnsku,
            scan.asin || "—",
            scan.title || scan.message || "",
            scan.confidence === null ? "—" : `${Math.round(scan.confidence * 100)}%`,
            [scan.status, scan.sample ? "sample data" : "", scan.charged === false ? "not charged again" : ""].filter(Boolean).join(" · "),
          ];
          cells.forEach((text, index) => {
            const cell = document.createElement("td");
            cell.textContent = text;
            if (index === 4) cell.className = "conf";
            row.append(cell);
          });
          return row;
        }),
    );
    emptyNote.hidden = scans.length > 0;
    count.textContent = scans.length ? `(${scans.length})` : "";
  };

  const remember = (body) => {
    const scans = load();
    const c = body.conversion;
    const b = body.barcode;
    scans.push(
      b // a manufacturer's barcode: the ASINs carrying it, no confidence to give
        ? { at: new Date().toISOString(), id: null, fnsku: b.code, marketplace: b.marketplace, asin: b.matches.map((m) => m.asin).join(" "), title: b.matches.length ? b.matches[0].title : null, confidence: null, status: "barcode", sample: b.provider === "sandbox", provider: b.provider || null }
        : body.ok
        ? { at: new Date().toISOString(), id: c.id, fnsku: c.fnsku, marketplace: c.marketplace, asin: c.asin, title: c.title, confidence: c.confidence, status: c.status, sample: Boolean(c.sample_data), provider: c.provider, charged: c.charged }
        : { at: new Date().toISOString(), id: null, fnsku: body.fnsku, marketplace: form.elements.namedItem("marketplace").value, asin: null, title: null, confidence: null, status: body.error.code, message: body.error.message },
    );
    save(scans);
    render();
  };

  const post = async (fnsku, labelText) => {
    const data = new FormData(form);
    data.set("fnsku", fnsku);
    data.set("label_text", labelText || "");
    let response;
    try {
      response = await fetch(form.action, { method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch {
      return { ok: false, fnsku, error: { code: "network", message: "The server could not be reached; nothing was charged." } };
    }
    try {
      return await response.json();
    } catch {
      return { ok: false, fnsku, error: { code: `http_${response.status}`, message: `The server answered ${response.status}.` } };
    }
  };

  const show = (body) => {
    if (body.html) {
      resultBox.innerHTML = body.html; // rendered and escaped by the server's template
    } else {
      const card = document.createElement("div");
      card.className = "card result-card error";
      card.id = "result-card";
      card.textContent = body.error.message;
      resultBox.replaceChildren(card);
    }
  };

  // One scan at a time, in order: each waits for the one before it.
  let queue = Promise.resolve();
  const enqueue = (fnsku, labelText, { display = true } = {}) => {
    queue = queue.then(async () => {
      const body = await post(fnsku, labelText);
      if (display) show(body);
      remember(body);
      return body;
    });
    return queue;
  };

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const fnsku = input.value;
    const labelText = labelInput.value;
    input.value = "";
    labelInput.value = "";
    input.focus();
    if (!fnsku.trim()) return;
    enqueue(fnsku, labelText);
  });

  // The camera, for phones without a scanner: a read fills the field and submits the form, the
  // very path a scanner's Enter takes. Where the browser has no BarcodeDetector (desktop
  // Chromium on Linux, Firefox, Safari before 17) the barcode-detector polyfill and its
  // WebAssembly reader are loaded on the first press, never with the page.
  const camera = document.getElementById("camera");
  const cameraOpen = document.getElementById("camera-open");
  const cameraPanel = document.getElementById("camera-panel");
  const cameraClose = document.getElementById("camera-close");
  const video = document.getElementById("camera-video");
  const cameraStatus = document.getElementById("camera-status");
  const FORMATS = ["code_128", "ean_13", "ean_8", "upc_a", "upc_e"];
  let stream = null;
  let scanTimer = null;
  let detectorPromise = null;

  const loadPolyfill = () =>
    new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = camera.dataset.polyfill;
      script.onload = () => {
        const api = window.BarcodeDetectionAPI;
        if (!api) return reject(new Error("polyfill"));
        const wasm = camera.dataset.wasm;
        api.prepareZXingModule({ overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? wasm : prefix + path) } });
        resolve(api.BarcodeDetector);
      };
      script.onerror = () => reject(new Error("polyfill"));
      document.head.append(script);
    });

  const makeDetector = async () => {
    const Detector = "BarcodeDetector" in window ? window.BarcodeDetector : await loadPolyfill();
    const supported = await Detector.getSupportedFormats();
    const formats = FORMATS.filter((format) => supported.includes(format));
    if (!formats.length) throw new Error("formats");
    return new Detector({ formats });
  };

  const cameraProblem = (error) => {
    const name = error && error.name;
    if (name === "NotAllowedError" || name === "SecurityError")
      return "The camera is blocked: allow this site to use the camera in your browser's settings, then press Scan with camera again.";
    if (name === "NotFoundError" || name === "OverconstrainedError") return "No camera was found on this device. Type the code or use a barcode scanner.";
    if (name === "NotReadableError" || name === "AbortError") return "The camera is in use by another app, or could not be started. Close the other app and try again.";
    if (error && error.message === "insecure") return "The camera works only over a secure (https) connection.";
    if (error && error.message === "formats") return "This browser cannot read Code 128, EAN or UPC barcodes. Type the code or use a barcode scanner.";
    if (error && error.message === "polyfill") return "The barcode reader could not be loaded. Check the connection and try again.";
    if (error && error.message === "hidden") return "The camera was turned off while the page was hidden.";
    return "The camera could not be started. Type the code or use a barcode scanner.";
  };

  const closeCamera = (message = "") => {
    clearTimeout(scanTimer);
    scanTimer = null;
    if (stream) stream.getTracks().forEach((track) => track.stop());
    stream = null;
    video.srcObject = null;
    cameraPanel.hidden = true;
    cameraOpen.hidden = false;
    cameraOpen.setAttribute("aria-expanded", "false");
    cameraStatus.textContent = message;
  };

  const scanFrame = async (detector) => {
    if (!stream) return;
    let codes = [];
    try {
      if (video.readyState >= 2) codes = await detector.detect(video);
    } catch {
      codes = []; // a frame the reader could not take (not ready yet): try the next one
    }
    if (!stream) return;
    const code = codes.map((found) => found.rawValue.trim()).find(Boolean);
    if (!code) {
      scanTimer = setTimeout(() => scanFrame(detector), 150);
      return;
    }
    closeCamera(`Read ${code}.`);
    input.value = code;
    form.requestSubmit();
  };

  if (camera) {
    cameraOpen.addEventListener("click", async () => {
      cameraOpen.disabled = true;
      cameraStatus.textContent = "Starting the camera…";
      try {
        if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) throw new Error("insecure");
        detectorPromise = detectorPromise || makeDetector();
        const detector = await detectorPromise;
        const media = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
        if (document.hidden) {
          media.getTracks().forEach((track) => track.stop()); // put away while the camera started
          throw new Error("hidden");
        }
        stream = media;
        video.srcObject = stream;
        cameraPanel.hidden = false;
        cameraOpen.hidden = true;
        cameraOpen.setAttribute("aria-expanded", "true");
        await video.play();
        cameraStatus.textContent = "Hold the label's barcode inside the picture.";
        cameraClose.focus();
        scanFrame(detector);
      } catch (error) {
        if (error && error.message === "polyfill") detectorPromise = null; // let a later press retry
        closeCamera(cameraProblem(error));
      } finally {
        cameraOpen.disabled = false;
      }
    });
    cameraClose.addEventListener("click", () => {
      closeCamera();
      input.focus();
    });
    // A camera left on in a background tab: turned off, as a person putting the phone away expects.
    document.addEventListener("visibilitychange", () => {
      if (document.hidden && stream) closeCamera("The camera was turned off while the page was hidden.");
    });
  }

  // Clicking a result's buttons must not leave the scanner typing into nothing.
  resultBox.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-feedback]");
    if (!button) return;
    const data = new FormData();
    data.set("csrfmiddlewaretoken", form.elements.namedItem("csrfmiddlewaretoken").value);
    data.set("asin", button.dataset.feedback);
    const url = feedbackUrl.replace("/0/", `/${button.dataset.conversion}/`);
    const status = resultBox.querySelector("[data-feedback-status]");
    try {
      const response = await fetch(url, { method: "POST", body: data, headers: { Accept: "application/json" }, credentials: "same-origin" });
      const body = await response.json();
      if (status) status.textContent = body.ok ? (body.verdict === "confirmed" ? "Thanks: confirmed." : `Thanks: corrected to ${body.asin}.`) : body.error.message;
    } catch {
      if (status) status.textContent = "The feedback could not be sent.";
    }
    input.focus();
  });

  document.getElementById("export-scans").addEventListener("click", () => {
    const quote = (value) => {
      const text = value === null || value === undefined ? "" : String(value);
      return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
    };
    // A cell a spreadsheet would run as a formula is written as text (as core/csv_export.py does).
    const safe = (value) => (typeof value === "string" && /^[=+\-@\t\r]/.test(value) ? `'${value}` : value);
    const header = ["scanned_at", "fnsku", "marketplace", "asin", "title", "confidence", "status", "sample_data", "provider", "conversion_id"];
    const lines = [header.join(",")].concat(
      load().map((s) =>
        [s.at, s.fnsku, s.marketplace, s.asin, s.title || s.message, s.confidence, s.status, s.sample ? "true" : "false", s.provider, s.id]
          .map((value) => quote(safe(value)))
          .join(","),
      ),
    );
    const blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = `fnsku-scans-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
    input.focus();
  });

  document.getElementById("clear-scans").addEventListener("click", () => {
    save([]);
    render();
    input.focus();
  });

  // The paste box: many codes, converted one after another.
  const paste = document.getElementById("paste-codes");
  const pasteButton = document.getElementById("paste-convert");
  const progress = document.getElementById("paste-progress");
  pasteButton.addEventListener("click", async () => {
    const max = Number(paste.dataset.max) || 200;
    const lines = paste.value
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter(Boolean);
    if (!lines.length) return;
    if (lines.length > max) {
      progress.textContent = `At most ${max} codes at once; you pasted ${lines.length}.`;
      return;
    }
    pasteButton.disabled = true;
    let done = 0;
    let found = 0;
    progress.textContent = `0 of ${lines.length}…`;
    for (const line of lines) {
      const [code, ...rest] = line.split(/[\t,;]/);
      const body = await enqueue(code, rest.join(" ").trim(), { display: false });
      done += 1;
      found += body.ok ? 1 : 0;
      progress.textContent = `${done} of ${lines.length} converted, ${found} found…`;
    }
    progress.textContent = `Done: ${found} of ${lines.length} found. See the list below.`;
    pasteButton.disabled = false;
    paste.value = "";
    input.focus();
  });

  render();
  input.focus();
})();
