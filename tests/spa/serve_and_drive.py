"""Serves the SPA on 127.0.0.1:PORT and drives headless Chromium through its sign-in: the SPA
(oidc-client-ts) redirects to Gatehouse, a person signs in and consents, the SPA exchanges the
code and calls /userinfo from the browser (CORS). Prints the result JSON."""
import functools
import http.server
import os
import sys
import threading
from urllib.parse import urlencode

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(here))
from browser import chrome  # noqa: E402  (tests/browser.py, one folder up)

issuer, client_id, port, username, password = sys.argv[1:6]


class Handler(http.server.SimpleHTTPRequestHandler):
    def translate_path(self, path):
        if path.split("?")[0] == "/oidc-client-ts.min.js":
            return os.path.join(here, "node_modules/oidc-client-ts/dist/browser/oidc-client-ts.min.js")
        return super().translate_path(path)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", int(port)), functools.partial(Handler, directory=here))
threading.Thread(target=server.serve_forever, daemon=True).start()

driver = chrome()
try:
    wait = WebDriverWait(driver, 20)
    driver.get(f"http://127.0.0.1:{port}/index.html?" + urlencode({"authority": issuer, "client_id": client_id}))
    wait.until(lambda d: "Sign in" in d.title or "SPA failed" in d.title)
    if "SPA failed" in driver.title:
        raise SystemExit(driver.find_element(By.ID, "status").text)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "Allow access" in d.title)
    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    wait.until(lambda d: d.title in ("SPA done", "SPA failed"))
    if driver.title != "SPA done":
        raise SystemExit(driver.find_element(By.ID, "status").text)
    print(driver.find_element(By.ID, "result").text)
finally:
    driver.quit()
    server.shutdown()
