"""A person in a real browser (headless Chromium via Selenium): opens the authorization URL,
signs in on the login page, approves the consent page, and lands back on the app. Prints the
URL the browser ends on."""
import sys

from selenium.webdriver.support.ui import WebDriverWait

from browser import chrome, sign_in_and_allow

auth_url, username, password, redirect_prefix = sys.argv[1:5]
driver = chrome()
try:
    driver.get(auth_url)
    wait = WebDriverWait(driver, 15)
    sign_in_and_allow(driver, wait, username, password)
    wait.until(lambda d: d.current_url.startswith(redirect_prefix))
    print(driver.current_url)
finally:
    driver.quit()
