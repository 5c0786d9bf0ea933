"""Form Post Response Mode in a real browser (headless Chromium via Selenium): a small app on a
loopback port receives the POSTed authorization response. With JavaScript on, the page submits
itself; with it off, the person presses Continue. Prints the form body the app received."""
import http.server
import os
import sys
import threading

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser import chrome, sign_in_and_allow

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

driver = chrome(javascript=(javascript != "off"))
try:
    driver.get(auth_url)
    wait = WebDriverWait(driver, 15)
    sign_in_and_allow(driver, wait, username, password)
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
