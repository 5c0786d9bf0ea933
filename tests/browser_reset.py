"""A person in headless Chromium, without JavaScript, who forgot their password while signing
in to an app: "Forgot password?" on the sign-in page, the form, then (once the test writes the
mailed link on stdin) the reset page, a refused common password, a good one, consent, and back
to the app. Screenshots of each page go to the given folder. Prints `ASKED` once the link is
requested, then the URL the browser ends on."""
import os
import sys

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from browser import chrome

auth_url, username, new_password, redirect_prefix, shots = sys.argv[1:6]
os.makedirs(shots, exist_ok=True)


def shot(driver, name):
    driver.set_window_size(800, max(700, driver.execute_script("return document.body.scrollHeight")))
    driver.save_screenshot(os.path.join(shots, f"reset-{name}.png"))


driver = chrome(javascript=False, extra_args=["--window-size=800,700"])
try:
    wait = WebDriverWait(driver, 15)
    driver.get(auth_url)
    wait.until(lambda d: "Sign in" in d.title)
    shot(driver, "sign-in")
    driver.find_element(By.LINK_TEXT, "Forgot password?").click()
    wait.until(lambda d: "Reset your password" in d.title)
    shot(driver, "forgot")
    driver.find_element(By.ID, "who").send_keys(username)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "If an account matches" in d.page_source)
    shot(driver, "sent")
    print("ASKED", flush=True)

    link = sys.stdin.readline().strip()
    # The message as a mail client would show it (the test saved its HTML part).
    driver.get("file://" + os.path.join(shots, "reset-mail.html"))
    shot(driver, "mail")
    driver.get(link)
    wait.until(lambda d: "Choose a new password" in d.title)
    shot(driver, "choose")
    driver.find_element(By.ID, "password").send_keys("password1234")
    driver.find_element(By.ID, "confirm").send_keys("password1234")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "most commonly used" in d.page_source)
    shot(driver, "refused")
    driver.find_element(By.ID, "password").send_keys(new_password)
    driver.find_element(By.ID, "confirm").send_keys(new_password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "Allow access" in d.title)
    shot(driver, "consent")
    driver.find_element(By.CSS_SELECTOR, "button[value=allow]").click()
    wait.until(lambda d: d.current_url.startswith(redirect_prefix))
    landed = driver.current_url
    issuer = auth_url.split("/authorize")[0]
    for page, title in [("/account", "Your account"), ("/account/password", "Change your password"),
                        ("/account/email", "Change your email address")]:
        driver.get(issuer + page)
        wait.until(lambda d: title in d.title)
        shot(driver, page.strip("/").replace("/", "-"))
    print(landed, flush=True)
finally:
    driver.quit()
