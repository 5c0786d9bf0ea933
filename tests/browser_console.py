"""An administrator in headless Chromium: signs in to the console, registers a web app with the
wizard and copies its secret, then signs in to that app as a relying party would send them.
After the test moves the server's clock (a line on stdin), a change asks them to sign in again.
A non-admin is turned away. Screenshots of the main pages go to the given folder. Prints one
JSON object (`CODE …`, then the last line): the client's id and secret, the PKCE verifier and
where the browser landed."""
import base64
import hashlib
import json
import os
import secrets
import sys
import urllib.parse

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser import chrome

issuer, admin, password, other, shots, redirect = sys.argv[1:7]
os.makedirs(shots, exist_ok=True)


def shot(driver, name):
    driver.set_window_size(1280, max(900, driver.execute_script("return document.body.scrollHeight")))
    driver.save_screenshot(os.path.join(shots, f"console-{name}.png"))


def sign_in(driver, wait, username):
    wait.until(lambda d: "Sign in" in d.title)
    field = driver.find_element(By.NAME, "username")
    field.clear()
    field.send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()


driver = chrome(extra_args=["--window-size=1280,900"])
out = {}
try:
    wait = WebDriverWait(driver, 15)
    driver.get(issuer + "/admin")
    sign_in(driver, wait, admin)
    wait.until(lambda d: d.title.startswith("Dashboard"))
    shot(driver, "dashboard")

    driver.find_element(By.LINK_TEXT, "Clients").click()
    wait.until(lambda d: d.title.startswith("Clients"))
    driver.find_element(By.LINK_TEXT, "New client").click()
    wait.until(lambda d: d.title.startswith("New client"))
    shot(driver, "wizard")
    driver.find_element(By.PARTIAL_LINK_TEXT, "Web app").click()
    wait.until(lambda d: d.find_elements(By.ID, "redirect_uris"))
    driver.find_element(By.ID, "name").send_keys("Wiki")
    driver.find_element(By.ID, "redirect_uris").send_keys(redirect)
    shot(driver, "new-web-app")
    driver.find_element(By.CSS_SELECTOR, "form.console-form button[type=submit]").click()
    wait.until(lambda d: "is registered" in d.page_source)
    out["client_id"] = driver.find_element(By.ID, "client-id").text
    out["secret"] = driver.find_element(By.ID, "client-secret").get_attribute("value")
    copy = driver.find_element(By.CSS_SELECTOR, "[data-copy]")
    assert copy.is_displayed(), "the copy button shows where the clipboard is available"
    copy.click()
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-copied]").is_displayed())
    shot(driver, "secret")

    for name, title in [("users", "Users"), ("keys", "Signing keys"), ("audit", "Audit log")]:
        driver.get(f"{issuer}/admin/{name}")
        wait.until(lambda d, t=title: d.title.startswith(t))
        shot(driver, name)
    driver.get(f"{issuer}/admin/clients/{out['client_id']}")
    wait.until(lambda d: d.title.startswith("Wiki"))
    shot(driver, "client")

    # The relying party sends the admin to sign in to the new app: already signed in, they
    # only approve its access.
    verifier = secrets.token_urlsafe(32)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": out["client_id"], "redirect_uri": redirect,
        "scope": "openid email", "state": "s1", "code_challenge": challenge,
        "code_challenge_method": "S256",
    })
    driver.get(f"{issuer}/authorize?{query}")
    wait.until(lambda d: "Allow access" in d.title)
    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    wait.until(lambda d: d.current_url.startswith(redirect))
    out["verifier"] = verifier
    out["landed"] = driver.current_url
    # The test exchanges the code now, while it is fresh.
    print("CODE " + json.dumps(out), flush=True)
    sys.stdin.readline()

    # The playground runs the same flow from the console and shows what the app got.
    driver.get(f"{issuer}/admin/clients/{out['client_id']}")
    wait.until(lambda d: d.title.startswith("Wiki"))
    driver.find_element(By.CSS_SELECTOR, "form[action$='/playground'] button").click()
    wait.until(lambda d: d.title.startswith("Playground") or "Allow access" in d.title)
    if "Allow access" in driver.title:
        driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
        wait.until(lambda d: d.title.startswith("Playground"))
    assert "at+jwt" in driver.page_source, "the access token is shown decoded"
    shot(driver, "playground")
    driver.find_element(By.CSS_SELECTOR, "form[action$='/playground/remove'] button").click()
    wait.until(lambda d: d.title.startswith("Wiki"))

    # Time passes (the test moves the server's clock); a change asks for the password again.
    print("ADVANCE", flush=True)
    sys.stdin.readline()
    driver.get(f"{issuer}/admin/clients/{out['client_id']}")
    wait.until(lambda d: d.title.startswith("Wiki"))
    driver.find_element(By.CSS_SELECTOR, "form[action$='/rotate-secret'] button").click()
    wait.until(lambda d: "Sign in" in d.title)
    assert "Confirm it" in driver.page_source, "the login page says why it asks again"
    shot(driver, "confirm")
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "form[action='/login'] button[type=submit]").click()
    wait.until(lambda d: d.title.startswith("Wiki"))
    driver.find_element(By.CSS_SELECTOR, "form[action$='/rotate-secret'] button").click()
    wait.until(lambda d: "New secret for" in d.page_source)
    out["rotated"] = driver.find_element(By.ID, "client-secret").get_attribute("value")

    # Someone without the role is turned away.
    driver.delete_all_cookies()
    driver.get(issuer + "/admin")
    sign_in(driver, wait, other)
    wait.until(lambda d: "Administrators only" in d.page_source)
    out["non_admin_title"] = driver.title
    shot(driver, "denied")
    print(json.dumps(out), flush=True)
finally:
    driver.quit()
