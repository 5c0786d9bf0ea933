"""Passkeys in headless Chromium with WebDriver's virtual authenticator (CTAP2, resident keys,
user verification): register one on /account, sign out, sign in passwordless through a relying
party's flow, then use it as the second factor after the password. Negative cases: a replayed
challenge, a wrong origin, and a removed passkey.

Usage: browser_passkey.py BASE AUTH_URL USERNAME PASSWORD OTHER_ORIGIN
Prints a JSON line with the client redirects reached and what each negative case answered,
waits for a line on stdin (the test redeems the codes meanwhile), then prints a second line
with the removed passkey's answer."""
import json
import sys
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.virtual_authenticator import VirtualAuthenticatorOptions
from selenium.webdriver.support.ui import WebDriverWait

from browser import chrome

base, auth_url, username, password, other = sys.argv[1:6]
driver = chrome(extra_args=["--host-resolver-rules=MAP localhost 127.0.0.1, MAP *.localhost 127.0.0.1"])
wait = WebDriverWait(driver, 15)
out = {}

# Test-side WebAuthn call, for the cases the page script never makes (a replay, another origin).
RAW_ASSERTION = """
const [optionsUrl, finishUrl, repeat, done] = arguments;
const b64d = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - s.length % 4) % 4)), c => c.charCodeAt(0)).buffer;
const b64e = (b) => btoa(String.fromCharCode(...new Uint8Array(b))).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
(async () => {
  const csrf = document.querySelector('[data-passkey]').dataset.csrf;
  const h = {'Content-Type': 'application/json', 'X-CSRF-Token': csrf};
  const o = (await (await fetch(optionsUrl, {method: 'POST', headers: h, body: '{}'})).json()).publicKey;
  o.challenge = b64d(o.challenge);
  (o.allowCredentials || []).forEach(c => { c.id = b64d(c.id); });
  const c = await navigator.credentials.get({publicKey: o});
  const body = JSON.stringify({credential: {id: c.id, rawId: b64e(c.rawId), type: c.type, extensions: {},
    response: {authenticatorData: b64e(c.response.authenticatorData), clientDataJSON: b64e(c.response.clientDataJSON),
      signature: b64e(c.response.signature), userHandle: c.response.userHandle ? b64e(c.response.userHandle) : null}}});
  const statuses = [];
  for (let i = 0; i < repeat; i++) {
    statuses.push((await fetch(finishUrl, {method: 'POST', headers: h, body})).status);
  }
  done(statuses);
})().catch(e => done(String(e)));
"""


def sign_in_with_password():
    wait.until(lambda d: "Sign in" in d.title)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()


def sign_out():
    driver.get(base + "/account")
    wait.until(lambda d: "Your account" in d.title)
    driver.find_element(By.XPATH, "//form[@action='/logout']//button").click()
    wait.until(lambda d: "/account" not in d.current_url or "Signed out" in d.title)


def forget_session():
    """A fresh browser for the next step. Unlike signing out, this leaves the codes already
    issued redeemable (sign-out expires a session's unredeemed codes)."""
    driver.get(base + "/healthz")
    driver.delete_all_cookies()


def load_without_conditional(url):
    """Loads a page whose script starts a conditional passkey request, and lets that request
    fail (no user verification) before the test goes on: the virtual authenticator would
    otherwise answer it at once, where a person would first pick the passkey from autofill."""
    driver.set_user_verified(False)
    driver.get(url)
    wait.until(lambda d: "Sign in" in d.title)
    time.sleep(1)
    driver.set_user_verified(True)


def client_redirect():
    wait.until(lambda d: d.current_url.startswith("http://127.0.0.1"))
    return driver.current_url


try:
    options = VirtualAuthenticatorOptions()
    options.protocol = VirtualAuthenticatorOptions.Protocol.CTAP2
    options.transport = VirtualAuthenticatorOptions.Transport.INTERNAL
    options.has_resident_key = True
    options.has_user_verification = True
    options.is_user_verified = True
    options.is_user_consenting = True
    driver.add_virtual_authenticator(options)

    # Register a passkey on /account.
    driver.get(base + "/login")
    sign_in_with_password()
    wait.until(lambda d: "Your account" in d.title)
    name = driver.find_element(By.CSS_SELECTOR, "[data-passkey-name]")
    name.clear()
    name.send_keys("Test laptop")
    driver.find_element(By.XPATH, "//button[text()='Add a passkey']").click()
    wait.until(lambda d: "Test laptop" in d.page_source and "Passkey · added" in d.page_source)
    out["resident_keys"] = sum(1 for c in driver.get_credentials() if c.is_resident_credential)
    driver.save_screenshot("/tmp/gatehouse-account-passkey.png")
    sign_out()

    # Passwordless, through the relying party's flow: with the button...
    load_without_conditional(auth_url)
    driver.save_screenshot("/tmp/gatehouse-login-passkey.png")
    driver.find_element(By.XPATH, "//button[text()='Sign in with a passkey']").click()
    out["passwordless"] = client_redirect()
    forget_session()
    # ...and through conditional mediation (the username field's autofill).
    driver.get(auth_url)
    out["conditional"] = client_redirect()
    forget_session()

    # The passkey as the second factor after the password.
    load_without_conditional(auth_url)
    sign_in_with_password()
    wait.until(lambda d: "Two-step sign-in" in d.title)
    driver.save_screenshot("/tmp/gatehouse-factor.png")
    driver.find_element(By.XPATH, "//button[text()='Use a passkey']").click()
    out["second_factor"] = client_redirect()
    forget_session()

    # A replayed challenge: the same answer twice; only the first counts.
    load_without_conditional(base + "/login")
    out["replay"] = driver.execute_async_script(RAW_ASSERTION, "/login/passkey/options", "/login/passkey", 2)
    sign_out()

    # Another origin (the same server behind another port): the browser signs for it, as the
    # RP ID is the same, and the server refuses the origin.
    load_without_conditional(other + "/login")
    out["wrong_origin"] = driver.execute_async_script(RAW_ASSERTION, "/login/passkey/options", "/login/passkey", 1)

    # The test redeems the codes above before the removal, which ends this user's other
    # sessions and so expires their unredeemed codes.
    print(json.dumps(out), flush=True)
    sys.stdin.readline()
    out = {}

    # A removed passkey no longer signs in.
    load_without_conditional(base + "/login")
    sign_in_with_password()
    wait.until(lambda d: "Two-step" in d.title or "Your account" in d.title)
    if "Two-step" in driver.title:
        driver.find_element(By.XPATH, "//button[text()='Use a passkey']").click()
        wait.until(lambda d: "Your account" in d.title)
    driver.find_element(By.XPATH, "//button[starts-with(@aria-label, 'Remove passkey')]").click()
    wait.until(lambda d: "Test laptop" not in d.page_source)
    sign_out()
    load_without_conditional(base + "/login")
    out["removed"] = driver.execute_async_script(RAW_ASSERTION, "/login/passkey/options", "/login/passkey", 1)
    print(json.dumps(out))
except Exception:
    driver.save_screenshot("/tmp/gatehouse-passkey-failure.png")
    sys.stderr.write(driver.current_url + "\n" + driver.page_source[:3000] + "\n")
    raise
finally:
    driver.quit()
