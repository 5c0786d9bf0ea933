"""Shared by the browser checks: Debian's headless Chromium under Selenium (never a downloaded
browser), and a person signing in and allowing access on Gatehouse's pages."""
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By


def chrome(javascript=True, extra_args=()):
    options = webdriver.ChromeOptions()
    for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                *extra_args]:
        options.add_argument(arg)
    if not javascript:
        options.add_experimental_option("prefs", {"profile.managed_default_content_settings.javascript": 2})
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def sign_in_and_allow(driver, wait, username, password):
    """On the login page: sign in, then allow access on the consent page."""
    wait.until(lambda d: "Sign in" in d.title)
    driver.find_element(By.NAME, "username").send_keys(username)
    driver.find_element(By.NAME, "password").send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "Allow access" in d.title)
    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
