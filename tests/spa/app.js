// A minimal SPA: settings come from the query string of index.html (kept in sessionStorage).
function settings() {
  const q = new URLSearchParams(location.search);
  if (q.get("authority")) {
    sessionStorage.setItem("spa", JSON.stringify({ authority: q.get("authority"), client_id: q.get("client_id") }));
  }
  const s = JSON.parse(sessionStorage.getItem("spa"));
  return new oidc.UserManager({
    authority: s.authority,
    client_id: s.client_id,
    redirect_uri: location.origin + "/callback.html",
    response_type: "code",
    scope: "openid profile email",
    loadUserInfo: true,
  });
}

function fail(e) {
  document.getElementById("status").textContent = "error: " + (e && e.message ? e.message : e);
  document.title = "SPA failed";
}

function signIn() {
  settings().signinRedirect().catch(fail);
}

async function complete() {
  try {
    const mgr = settings();
    const user = await mgr.signinRedirectCallback();
    // Call userinfo ourselves too, as an API call from the browser would.
    const info = await fetch(JSON.parse(sessionStorage.getItem("spa")).authority + "/userinfo", {
      headers: { Authorization: "Bearer " + user.access_token },
    }).then((r) => r.json());
    document.getElementById("result").textContent = JSON.stringify({ profile: user.profile, userinfo: info });
    document.getElementById("status").textContent = "signed in";
    document.title = "SPA done";
  } catch (e) {
    fail(e);
  }
}
