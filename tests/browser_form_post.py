"""Form Post Response Mode in a real browser (headless Chromium via Selenium): a small app on a
loopback port receives the POSTed authorization response. With JavaScript on, the page submits
itself; with it off, the person presses Continue. Prints the form body the app received."""
import http.server
import os
import sys
import threading

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

auth_url, username, password, port, javascript = sys.argv[1:6]
received = []


class App(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        received.append(body.decode("ascii"))
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(b"<title>App received</title>ok")

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", int(port)), App)
threading.Thread(target=server.serve_forever, daemon=True).start()

options = webdriver.ChromeOptions()
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
    options.add_argument(arg)
if javascript == "off":
    options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
options.binary_location = "/usr/bin/chromium"
driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
try:
    driver.get(auth_url)
    wait = WebDriverWait(driver, 15)
    wait.until(lambda d: "Sign in" in d.title)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "Allow access" in d.title)
    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    if javascript == "off":
        wait.until(lambda d: "Continue" in d.title)
        if os.environ.get("GATEHOUSE_SCREENSHOT"):
            driver.save_screenshot(os.environ["GATEHOUSE_SCREENSHOT"])
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: received)
    print(received[0])
finally:
    driver.quit()
    server.shutdown()
