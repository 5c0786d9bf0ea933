# Gatehouse's pages in English: the reference catalog. Every message here must exist in every
# other catalog (a unit test checks). See docs/languages.md.

## Shared
brand = Gatehouse
title-suffix = Gatehouse
continue = Continue
cancel = Cancel
sign-in-as = Signed in as <strong>{ $username }</strong>.
need-help = Need help? Contact your administrator.
need-help-contact = Need help? Contact { $contact }.

## Sign-in
login-title = Sign in
login-continue-to = to continue to <strong>{ $client }</strong>
login-username = Username
login-password = Password
login-submit = Sign in
login-or = or
login-passkey = Sign in with a passkey
login-invalid = Invalid username or password.

## Second step
factor-title = Two-step sign-in
factor-asks = <strong>{ $client }</strong> asks for a second step.
factor-signing-in-as = Signing in as <strong>{ $username }</strong>.
factor-code-label = Code from your authenticator app
factor-code-help = Six digits. Lost your phone? Enter one of your recovery codes instead.
factor-recovery-label = Recovery code
factor-recovery-help = Each of your recovery codes works once.
factor-recovery-submit = Use a recovery code
factor-passkey = Use a passkey
factor-cannot = Can't use any of these?
factor-wrong = That code is not right. Check the time on your phone, then try the newest code.
factor-replayed = That code was already used. Wait for the app to show a new one.

## Help with the second step
help-missing-title = Two-step sign-in needed
help-lost-title = Can't complete the second step?
help-missing-client = <strong>{ $client }</strong> requires a second step when you sign in, and your account does not have one yet.
help-missing-org = Your organisation requires a second step when you sign in, and your account does not have one yet.
help-missing-what = Set up an authenticator app or a passkey on your account page, then go back to the application and sign in again.
help-set-up = Set up two-step sign-in
help-back-to = Back to { $client }
help-back-to-app = Back to the application
help-lost = If you have lost your authenticator app and your recovery codes, an administrator can remove your second factors so you can sign in with your password and set up new ones.
help-back = Back to the second step

## Consent
consent-title = Allow access
consent-wants = { $client } wants to
consent-on-behalf = access your account on your behalf.
consent-deny = Deny
consent-allow = Allow
scope-openid = Know who you are (your account identifier)
scope-profile = See your name, username and profile details
scope-email = See your email address
scope-phone = See your phone number
scope-address = See your postal address
scope-offline_access = Stay connected when you are not using it (offline access)
scope-groups = See the groups you belong to

## Account
account-title = Your account
account-username = Username
account-name = Name
account-email = Email
account-subject = Subject
account-signed-in = Signed in
account-your-name = Your name
account-your-name-help = Apps you allow to see your profile receive these.
account-full-name = Full name
account-given-name = Given name
account-middle-name = Middle name
account-family-name = Family name
account-nickname = Nickname
account-save-name = Save name
account-two-step = Two-step sign-in
account-two-step-on = After your password, Gatehouse asks for one of these.
account-two-step-off = Add a second step after your password, so a stolen password alone cannot open your account.
account-app = Authenticator app
account-app-on = On
account-app-off = Not set up
account-set-up = Set up
account-remove = Remove
account-passkey-added = Passkey · added { $created }
account-passkey-used = · last used { $used }
account-remove-passkey = Remove passkey { $name }
account-recovery = Recovery codes
account-recovery-none = None yet: without them, losing your devices locks you out
account-recovery-left = { $count ->
    [one] 1 unused
   *[other] { $count } unused
}
account-recovery-generate = Generate codes
account-recovery-regenerate = Generate new codes
account-passkey-name = Name for a new passkey
account-passkey-default = Passkey
account-passkey-add = Add a passkey
account-passkey-needs-js = Adding a passkey needs JavaScript.
account-apps = Connected apps
account-apps-none = No app has access to your account.
account-apps-remove = Remove access
account-sign-out = Sign out

## Authenticator enrolment
totp-title = Set up an authenticator app
totp-scan = Open an authenticator app (such as Google Authenticator, Microsoft Authenticator, 1Password or Aegis) and scan this code.
totp-qr-label = QR code for your authenticator app
totp-manual = Can't scan it? Enter this key by hand, as a time-based code:
totp-enter = Enter the six-digit code the app now shows.
totp-code-label = Code from the app
totp-submit = Turn on two-step sign-in
totp-wrong = That code is not right. Enter the code the app shows now.

## Recovery codes
codes-title = Save your recovery codes
codes-lead = If you lose your authenticator app or passkeys, each of these codes signs you in once. This is the only time they are shown: print them or keep them in your password manager.
codes-replace = Generating new codes on your account page makes these stop working.
codes-saved = I have saved them

## Sign-out
logout-title = Sign out
logout-question = Sign out?
logout-asks = <strong>{ $client }</strong> asks to sign you out of Gatehouse.
logout-browser = You will be signed out of Gatehouse on this browser.
logout-submit = Sign out
logged-out-title = Signed out
logged-out-heading = You are signed out
logged-out-left = You have left <strong>{ $client }</strong> and Gatehouse on this browser.
logged-out-close = You can close this window.
logged-out-again = Sign in again

## Returning to the application
form-post-title = Continue
form-post-heading = Returning you to the application
form-post-lead = If nothing happens within a moment, press Continue.

## Start page
index-heading = OpenID Connect provider
index-issuer = Issuer
index-discovery = Discovery document
index-jwks = Signing keys (JWKS)
index-account = Your account

## Errors
error-bad-request = This request cannot be completed
error-internal-title = Something went wrong
error-internal = Please try again in a moment.
error-unavailable-title = Briefly unavailable
error-unavailable = Gatehouse cannot reach its database right now. Try again in a few seconds.
error-not-found-title = Not found
error-not-found = There is nothing at this address.
error-form-expired-title = This form has expired
error-form-expired = Reload the page and try again.
error-throttled-title = Too many sign-in attempts
error-throttled = Wait { $seconds } seconds, then try again.
error-flow-expired = This sign-in request has expired or was already completed. Go back to the application and start again.
error-flow-other-browser = This sign-in request was started in another browser. Go back to the application and start again.
error-flow-invalid = This sign-in request is not valid. Go back to the application and start again.
error-flow-completed = This sign-in request was already completed.
error-client-gone = The application is no longer registered.
error-form-incomplete = The form was incomplete.
error-too-large-title = The request is too large
error-too-slow-title = The request took too long
error-uri-too-long-title = The address is too long
error-start-again = Go back to the application and start again.

## Passkey messages (shown by the page script)
passkey-duplicate = This passkey is already registered.
passkey-unknown = This passkey is not registered here. Sign in with your password instead.
passkey-rejected = The passkey could not be verified. Try again.
passkey-malformed = The request was malformed. Reload the page and try again.
passkey-page-expired = This page has expired. Reload it and try again.
passkey-unavailable = Passkeys are not available on this server.
passkey-request-expired = This passkey request has expired. Try again.
passkey-sign-in-first = Sign in first.
passkey-step-up = Confirm it is you with your second step first: sign out and in again.
passkey-name-invalid = A passkey name is at most 60 characters, on one line.
passkey-closed = The passkey prompt was closed. Try again when you are ready.
passkey-failed = Something went wrong. Try again.
error-admin-only-title = Administrators only
error-admin-only = This page is for Gatehouse administrators. Ask one to give you the admin role if you need it.
error-admin-needs-mfa = Administrators must sign in with two steps. Set up an authenticator app or a passkey on your account page first.
login-confirm = Confirm it's you to continue to the admin console.
account-admin-console = Admin console

## Account links: password reset, email verification, sign-up
login-forgot = Forgot password?
login-signup = Create an account
back-to-sign-in = Back to sign in
back-to-account = Back to your account
go-to-account = Go to your account
forgot-title = Reset your password
forgot-lead = Enter your username or email address. We will email you a link to choose a new password.
forgot-who = Username or email address
forgot-submit = Email me a link
forgot-sent = If an account matches, we sent a link to its email address. The link works once, for { $minutes } minutes.
forgot-sent-help = Nothing there? Check your spam folder, or ask again in a few minutes.
reset-title = Choose a new password
reset-for = For the account <strong>{ $username }</strong>. You will be signed out everywhere else.
reset-submit = Set password and sign in
password-new = New password
password-confirm = New password again
password-current = Current password
password-rules = At least { $min } characters. Long phrases are good; common passwords are refused.
password-mismatch = The two new passwords are not the same.
password-too-short = The password must be at least { $min } characters.
password-too-long = The password must be at most 1024 bytes.
password-common = This password is one of the most commonly used ones. Choose another.
password-personal = The password must not be your username or email address.
link-invalid-title = This link no longer works
link-invalid = It has expired, was already used, or a newer one was sent. Ask for a new link.
link-throttled-title = Too many requests
link-throttled = Too many requests came from your network. Wait an hour, then try again.
verify-title = Confirm your email address
verify-lead = Confirm that <strong>{ $email }</strong> is your address.
verify-account = For the account <strong>{ $username }</strong>.
verify-submit = Confirm my address
verify-done = <strong>{ $email }</strong> is confirmed. Apps you sign in to can rely on it.
signup-title = Create an account
signup-lead = Enter your email address. We will send you a link to choose your username and password.
signup-email = Email address
signup-submit = Email me a link
signup-sent = Check your inbox: we sent a link to go on. It works once, for 24 hours.
signup-have-account = Already have an account? Sign in
complete-title = Create your account
complete-for = Your address: <strong>{ $email }</strong>.
complete-username-help = Letters, digits and . _ - @, up to 64 characters. You sign in with it.
complete-submit = Create account
complete-username-taken = That username is taken. Choose another.
change-password-title = Change your password
change-password-lead = Your other sessions end, and apps will ask you to sign in again.
change-password-submit = Change password
change-password-wrong = Your current password is not right.
change-email-title = Change your email address
change-email-lead = We will send a link to the new address to confirm it. Until then, apps see it as unconfirmed.
change-email-lead-no-mail = Apps you allow to see your email address receive the new one.
change-email-new = New email address
change-email-submit = Change address
change-email-invalid = That is not a valid email address.
account-sign-in = Password and email
account-change = Change
account-email-none = None
account-email-verified = confirmed
account-email-unverified = not confirmed
account-email-confirm-help = Your address is not confirmed yet.
account-email-resend = Send the link again
notice-password-changed = Your password is changed. Your other sessions have ended.
notice-email-changed = Your email address is changed. Check your inbox to confirm it.
notice-email-changed-no-mail = Your email address is changed.
notice-verification-sent = We sent a new link. Check your inbox.
change-email-stale = Your account changed in another window meanwhile. Nothing was saved: try again.
