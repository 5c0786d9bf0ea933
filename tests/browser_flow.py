"""A person in a real browser (headless Chromium via Selenium): opens the authorization URL,
signs in on the login page, approves the consent page, and lands back on the app. Prints the
URL the browser ends on."""
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

auth_url, username, password, redirect_prefix = sys.argv[1:5]
options = webdriver.ChromeOptions()
for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
    options.add_argument(arg)
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
    wait.until(lambda d: d.current_url.startswith(redirect_prefix))
    print(driver.current_url)
finally:
    driver.quit()
