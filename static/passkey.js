// Passkeys (WebAuthn) on Gatehouse's pages. The server runs the ceremony; this script only
// carries its options to navigator.credentials and the browser's answer back. Each block
// marked data-passkey="register|sign-in|second-factor" gets its button shown once the browser
// can do WebAuthn; without JavaScript the password form works as before.
"use strict";
(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  const b64 = {
    decode(s) {
      const pad = "=".repeat((4 - (s.length % 4)) % 4);
      const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
      return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
    },
    encode(buf) {
      const bytes = new Uint8Array(buf);
      let bin = "";
      for (const b of bytes) bin += String.fromCharCode(b);
      return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    },
  };

  // The server's JSON options, with their binary members as ArrayBuffers.
  function creationOptions(json) {
    const o = json.publicKey;
    o.challenge = b64.decode(o.challenge);
    o.user.id = b64.decode(o.user.id);
    (o.excludeCredentials || []).forEach((c) => { c.id = b64.decode(c.id); });
    return o;
  }

  function requestOptions(json) {
    const o = json.publicKey;
    o.challenge = b64.decode(o.challenge);
    (o.allowCredentials || []).forEach((c) => { c.id = b64.decode(c.id); });
    return o;
  }

  function registrationJson(cred) {
    return {
      id: cred.id,
      rawId: b64.encode(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        attestationObject: b64.encode(cred.response.attestationObject),
        clientDataJSON: b64.encode(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : [],
      },
    };
  }

  function assertionJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: b64.encode(cred.rawId),
      type: cred.type,
      extensions: cred.getClientExtensionResults(),
      response: {
        authenticatorData: b64.encode(r.authenticatorData),
        clientDataJSON: b64.encode(r.clientDataJSON),
        signature: b64.encode(r.signature),
        userHandle: r.userHandle ? b64.encode(r.userHandle) : null,
      },
    };
  }

  async function post(block, url, body) {
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": block.dataset.csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await resp.json(); } catch (_) { /* an empty or non-JSON answer */ }
    if (!resp.ok) throw new Error(data.error || block.dataset.msgFailed);
    return data;
  }

  function showError(block, message) {
    const el = block.querySelector("[data-passkey-error]");
    if (!el) return;
    el.textContent = message;
    el.hidden = !message;
  }

  // A cancelled or timed-out browser prompt is the user's choice, not an error to shout about.
  // The words come from the page, in its language.
  function describe(block, err) {
    if (err && (err.name === "NotAllowedError" || err.name === "AbortError")) {
      return block.dataset.msgClosed;
    }
    return err && err.message ? err.message : block.dataset.msgFailed;
  }

  async function register(block) {
    const nameInput = block.querySelector("[data-passkey-name]");
    const json = await post(block, "/account/passkeys/options");
    const cred = await navigator.credentials.create({ publicKey: creationOptions(json) });
    const done = await post(block, "/account/passkeys", {
      name: nameInput ? nameInput.value : "",
      credential: registrationJson(cred),
    });
    window.location.assign(done.location || "/account");
  }

  async function authenticate(block, optionsUrl, finishUrl, mediation, signal) {
    const json = await post(block, optionsUrl);
    const request = { publicKey: requestOptions(json) };
    if (mediation) request.mediation = mediation;
    if (signal) request.signal = signal;
    const cred = await navigator.credentials.get(request);
    if (!cred) return;
    const done = await post(block, finishUrl, {
      credential: assertionJson(cred),
      flow: block.dataset.flow || null,
    });
    window.location.assign(done.location);
  }

  function wire(block) {
    const kind = block.dataset.passkey;
    block.querySelectorAll("[data-passkey-start]").forEach((el) => { el.hidden = false; });
    const button = block.querySelector("button[data-passkey-start]");
    let conditional = null;

    if (kind === "sign-in" && PublicKeyCredential.isConditionalMediationAvailable) {
      // Conditional mediation: passkeys offered in the username field's autofill.
      PublicKeyCredential.isConditionalMediationAvailable().then((ok) => {
        if (!ok) return;
        conditional = new AbortController();
        // Conditional requests are passive: a dismissed or failed one stays quiet.
        authenticate(block, "/login/passkey/options", "/login/passkey", "conditional", conditional.signal)
          .catch((err) => {
            if (err.name !== "AbortError" && err.name !== "NotAllowedError") showError(block, describe(block, err));
          });
      });
    }

    button.addEventListener("click", () => {
      showError(block, "");
      button.disabled = true;
      let run;
      if (kind === "register") {
        run = register(block);
      } else if (kind === "sign-in") {
        if (conditional) conditional.abort();
        run = authenticate(block, "/login/passkey/options", "/login/passkey", null, null);
      } else {
        run = authenticate(block, "/login/factor/passkey/options", "/login/factor/passkey", null, null);
      }
      run.catch((err) => showError(block, describe(block, err))).finally(() => { button.disabled = false; });
    });
  }

  document.querySelectorAll("[data-passkey]").forEach(wire);
})();
