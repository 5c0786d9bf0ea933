# Gatehouse auf Deutsch. Jede Nachricht aus en.ftl muss hier stehen (ein Test prüft es).

## Shared
brand = Gatehouse
title-suffix = Gatehouse
continue = Weiter
cancel = Abbrechen
sign-in-as = Angemeldet als <strong>{ $username }</strong>.
need-help = Brauchen Sie Hilfe? Wenden Sie sich an Ihre Administration.
need-help-contact = Brauchen Sie Hilfe? Wenden Sie sich an { $contact }.

## Sign-in
login-title = Anmelden
login-continue-to = um mit <strong>{ $client }</strong> fortzufahren
login-username = Benutzername
login-password = Passwort
login-submit = Anmelden
login-or = oder
login-passkey = Mit einem Passkey anmelden
login-invalid = Benutzername oder Passwort ist falsch.

## Second step
factor-title = Anmeldung in zwei Schritten
factor-asks = <strong>{ $client }</strong> verlangt einen zweiten Schritt.
factor-signing-in-as = Anmeldung als <strong>{ $username }</strong>.
factor-code-label = Code aus Ihrer Authenticator-App
factor-code-help = Sechs Ziffern. Telefon verloren? Geben Sie stattdessen einen Ihrer Wiederherstellungscodes ein.
factor-recovery-label = Wiederherstellungscode
factor-recovery-help = Jeder Ihrer Wiederherstellungscodes funktioniert einmal.
factor-recovery-submit = Wiederherstellungscode verwenden
factor-passkey = Passkey verwenden
factor-cannot = Keine dieser Möglichkeiten verfügbar?
factor-wrong = Dieser Code stimmt nicht. Prüfen Sie die Uhrzeit Ihres Telefons und versuchen Sie den neuesten Code.
factor-replayed = Dieser Code wurde bereits verwendet. Warten Sie, bis die App einen neuen anzeigt.

## Help with the second step
help-missing-title = Anmeldung in zwei Schritten erforderlich
help-lost-title = Zweiten Schritt nicht möglich?
help-missing-client = <strong>{ $client }</strong> verlangt bei der Anmeldung einen zweiten Schritt, und Ihr Konto hat noch keinen.
help-missing-org = Ihre Organisation verlangt bei der Anmeldung einen zweiten Schritt, und Ihr Konto hat noch keinen.
help-missing-what = Richten Sie auf Ihrer Kontoseite eine Authenticator-App oder einen Passkey ein, kehren Sie dann zur Anwendung zurück und melden Sie sich erneut an.
help-set-up = Zwei Schritte einrichten
help-back-to = Zurück zu { $client }
help-back-to-app = Zurück zur Anwendung
help-lost = Wenn Sie Ihre Authenticator-App und Ihre Wiederherstellungscodes verloren haben, kann Ihre Administration Ihre zweiten Faktoren entfernen. Dann melden Sie sich mit Ihrem Passwort an und richten neue ein.
help-back = Zurück zum zweiten Schritt

## Consent
consent-title = Zugriff erlauben
consent-wants = { $client } möchte
consent-on-behalf = in Ihrem Namen auf Ihr Konto zugreifen.
consent-deny = Ablehnen
consent-allow = Erlauben
scope-openid = Wissen, wer Sie sind (Ihre Kontokennung)
scope-profile = Ihren Namen, Benutzernamen und Ihre Profilangaben sehen
scope-email = Ihre E-Mail-Adresse sehen
scope-phone = Ihre Telefonnummer sehen
scope-address = Ihre Postanschrift sehen
scope-offline_access = Verbunden bleiben, auch wenn Sie es nicht verwenden (Offline-Zugriff)
scope-groups = Die Gruppen sehen, denen Sie angehören

## Account
account-title = Ihr Konto
account-username = Benutzername
account-name = Name
account-email = E-Mail
account-subject = Kennung
account-signed-in = Angemeldet
account-your-name = Ihr Name
account-your-name-help = Anwendungen, denen Sie Ihr Profil freigeben, erhalten diese Angaben.
account-full-name = Vollständiger Name
account-given-name = Vorname
account-middle-name = Zweiter Vorname
account-family-name = Nachname
account-nickname = Spitzname
account-save-name = Namen speichern
account-two-step = Anmeldung in zwei Schritten
account-two-step-on = Nach Ihrem Passwort fragt Gatehouse nach einem davon.
account-two-step-off = Fügen Sie nach Ihrem Passwort einen zweiten Schritt hinzu, damit ein gestohlenes Passwort allein Ihr Konto nicht öffnet.
account-app = Authenticator-App
account-app-on = Aktiv
account-app-off = Nicht eingerichtet
account-set-up = Einrichten
account-remove = Entfernen
account-passkey-added = Passkey · hinzugefügt { $created }
account-passkey-used = · zuletzt verwendet { $used }
account-remove-passkey = Passkey { $name } entfernen
account-recovery = Wiederherstellungscodes
account-recovery-none = Noch keine: ohne sie sperrt Sie der Verlust Ihrer Geräte aus
account-recovery-left = { $count ->
    [one] 1 unbenutzt
   *[other] { $count } unbenutzt
}
account-recovery-generate = Codes erzeugen
account-recovery-regenerate = Neue Codes erzeugen
account-passkey-name = Name für einen neuen Passkey
account-passkey-default = Passkey
account-passkey-add = Passkey hinzufügen
account-passkey-needs-js = Zum Hinzufügen eines Passkeys ist JavaScript nötig.
account-apps = Verbundene Anwendungen
account-apps-none = Keine Anwendung hat Zugriff auf Ihr Konto.
account-apps-remove = Zugriff entfernen
account-sign-out = Abmelden

## Authenticator enrolment
totp-title = Authenticator-App einrichten
totp-scan = Öffnen Sie eine Authenticator-App (etwa Google Authenticator, Microsoft Authenticator, 1Password oder Aegis) und scannen Sie diesen Code.
totp-qr-label = QR-Code für Ihre Authenticator-App
totp-manual = Scannen nicht möglich? Geben Sie diesen Schlüssel von Hand als zeitbasierten Code ein:
totp-enter = Geben Sie den sechsstelligen Code ein, den die App jetzt anzeigt.
totp-code-label = Code aus der App
totp-submit = Zwei Schritte einschalten
totp-wrong = Dieser Code stimmt nicht. Geben Sie den Code ein, den die App jetzt anzeigt.

## Recovery codes
codes-title = Speichern Sie Ihre Wiederherstellungscodes
codes-lead = Wenn Sie Ihre Authenticator-App oder Ihre Passkeys verlieren, meldet Sie jeder dieser Codes einmal an. Sie werden nur dieses eine Mal angezeigt: Drucken Sie sie aus oder bewahren Sie sie in Ihrem Passwortmanager auf.
codes-replace = Wenn Sie auf Ihrer Kontoseite neue Codes erzeugen, verlieren diese ihre Gültigkeit.
codes-saved = Ich habe sie gespeichert

## Sign-out
logout-title = Abmelden
logout-question = Abmelden?
logout-asks = <strong>{ $client }</strong> möchte Sie von Gatehouse abmelden.
logout-browser = Sie werden in diesem Browser von Gatehouse abgemeldet.
logout-submit = Abmelden
logged-out-title = Abgemeldet
logged-out-heading = Sie sind abgemeldet
logged-out-left = Sie haben <strong>{ $client }</strong> und Gatehouse in diesem Browser verlassen.
logged-out-close = Sie können dieses Fenster schließen.
logged-out-again = Erneut anmelden

## Returning to the application
form-post-title = Weiter
form-post-heading = Zurück zur Anwendung
form-post-lead = Wenn gleich nichts passiert, klicken Sie auf Weiter.

## Start page
index-heading = OpenID-Connect-Anbieter
index-issuer = Aussteller
index-discovery = Discovery-Dokument
index-jwks = Signaturschlüssel (JWKS)
index-account = Ihr Konto

## Errors
error-bad-request = Diese Anfrage kann nicht ausgeführt werden
error-internal-title = Etwas ist schiefgegangen
error-internal = Bitte versuchen Sie es gleich noch einmal.
error-unavailable-title = Kurz nicht verfügbar
error-unavailable = Gatehouse erreicht seine Datenbank gerade nicht. Versuchen Sie es in ein paar Sekunden erneut.
error-not-found-title = Nicht gefunden
error-not-found = Unter dieser Adresse gibt es nichts.
error-form-expired-title = Dieses Formular ist abgelaufen
error-form-expired = Laden Sie die Seite neu und versuchen Sie es erneut.
error-throttled-title = Zu viele Anmeldeversuche
error-throttled = Warten Sie { $seconds } Sekunden und versuchen Sie es dann erneut.
error-flow-expired = Diese Anmeldeanfrage ist abgelaufen oder wurde bereits abgeschlossen. Kehren Sie zur Anwendung zurück und beginnen Sie neu.
error-flow-other-browser = Diese Anmeldeanfrage wurde in einem anderen Browser begonnen. Kehren Sie zur Anwendung zurück und beginnen Sie neu.
error-flow-invalid = Diese Anmeldeanfrage ist ungültig. Kehren Sie zur Anwendung zurück und beginnen Sie neu.
error-flow-completed = Diese Anmeldeanfrage wurde bereits abgeschlossen.
error-client-gone = Die Anwendung ist nicht mehr registriert.
error-form-incomplete = Das Formular war unvollständig.
error-too-large-title = Die Anfrage ist zu groß
error-too-slow-title = Die Anfrage hat zu lange gedauert
error-uri-too-long-title = Die Adresse ist zu lang
error-start-again = Kehren Sie zur Anwendung zurück und beginnen Sie neu.

## Passkey messages (shown by the page script)
passkey-duplicate = Dieser Passkey ist bereits registriert.
passkey-unknown = Dieser Passkey ist hier nicht registriert. Melden Sie sich stattdessen mit Ihrem Passwort an.
passkey-rejected = Der Passkey konnte nicht geprüft werden. Versuchen Sie es erneut.
passkey-malformed = Die Anfrage war fehlerhaft. Laden Sie die Seite neu und versuchen Sie es erneut.
passkey-page-expired = Diese Seite ist abgelaufen. Laden Sie sie neu und versuchen Sie es erneut.
passkey-unavailable = Passkeys sind auf diesem Server nicht verfügbar.
passkey-request-expired = Diese Passkey-Anfrage ist abgelaufen. Versuchen Sie es erneut.
passkey-sign-in-first = Melden Sie sich zuerst an.
passkey-step-up = Bestätigen Sie zuerst mit Ihrem zweiten Schritt, dass Sie es sind: Melden Sie sich ab und wieder an.
passkey-name-invalid = Ein Passkey-Name hat höchstens 60 Zeichen, in einer Zeile.
passkey-closed = Die Passkey-Abfrage wurde geschlossen. Versuchen Sie es erneut, wenn Sie bereit sind.
passkey-failed = Etwas ist schiefgegangen. Versuchen Sie es erneut.
error-admin-only-title = Nur für Administratoren
error-admin-only = Diese Seite ist für Gatehouse-Administratoren. Bitten Sie einen Administrator um die Admin-Rolle, wenn Sie sie benötigen.
error-admin-needs-mfa = Administratoren müssen sich in zwei Schritten anmelden. Richten Sie zuerst auf Ihrer Kontoseite eine Authenticator-App oder einen Passkey ein.
login-confirm = Bestätigen Sie, dass Sie es sind, um zur Admin-Konsole zu gelangen.
account-admin-console = Admin-Konsole

## Account links: password reset, email verification, sign-up
login-forgot = Passwort vergessen?
login-signup = Konto erstellen
back-to-sign-in = Zurück zur Anmeldung
back-to-account = Zurück zu Ihrem Konto
go-to-account = Zu Ihrem Konto
forgot-title = Passwort zurücksetzen
forgot-lead = Geben Sie Ihren Benutzernamen oder Ihre E-Mail-Adresse ein. Wir senden Ihnen einen Link, mit dem Sie ein neues Passwort wählen.
forgot-who = Benutzername oder E-Mail-Adresse
forgot-submit = Link senden
forgot-sent = Wenn ein Konto passt, haben wir einen Link an seine E-Mail-Adresse gesendet. Der Link gilt einmal, { $minutes } Minuten lang.
forgot-sent-help = Nichts angekommen? Sehen Sie im Spam-Ordner nach oder fragen Sie in ein paar Minuten erneut.
reset-title = Neues Passwort wählen
reset-for = Für das Konto <strong>{ $username }</strong>. Überall sonst werden Sie abgemeldet.
reset-submit = Passwort setzen und anmelden
password-new = Neues Passwort
password-confirm = Neues Passwort wiederholen
password-current = Aktuelles Passwort
password-rules = Mindestens { $min } Zeichen. Lange Sätze sind gut; häufige Passwörter werden abgelehnt.
password-mismatch = Die beiden neuen Passwörter stimmen nicht überein.
password-too-short = Das Passwort muss mindestens { $min } Zeichen haben.
password-too-long = Das Passwort darf höchstens 1024 Byte lang sein.
password-common = Dieses Passwort gehört zu den am häufigsten verwendeten. Wählen Sie ein anderes.
password-personal = Das Passwort darf nicht Ihr Benutzername oder Ihre E-Mail-Adresse sein.
link-invalid-title = Dieser Link gilt nicht mehr
link-invalid = Er ist abgelaufen, wurde schon benutzt, oder ein neuerer wurde gesendet. Fordern Sie einen neuen Link an.
link-throttled-title = Zu viele Anfragen
link-throttled = Aus Ihrem Netz kamen zu viele Anfragen. Warten Sie eine Stunde und versuchen Sie es dann erneut.
verify-title = E-Mail-Adresse bestätigen
verify-lead = Bestätigen Sie, dass <strong>{ $email }</strong> Ihre Adresse ist.
verify-account = Für das Konto <strong>{ $username }</strong>.
verify-submit = Meine Adresse bestätigen
verify-done = <strong>{ $email }</strong> ist bestätigt. Apps, bei denen Sie sich anmelden, können sich darauf verlassen.
signup-title = Konto erstellen
signup-lead = Geben Sie Ihre E-Mail-Adresse ein. Wir senden Ihnen einen Link, mit dem Sie Benutzernamen und Passwort wählen.
signup-email = E-Mail-Adresse
signup-submit = Link senden
signup-sent = Sehen Sie in Ihrem Postfach nach: Wir haben einen Link gesendet. Er gilt einmal, 24 Stunden lang.
signup-have-account = Schon ein Konto? Anmelden
complete-title = Ihr Konto erstellen
complete-for = Ihre Adresse: <strong>{ $email }</strong>.
complete-username-help = Buchstaben, Ziffern und . _ - @, bis zu 64 Zeichen. Damit melden Sie sich an.
complete-submit = Konto erstellen
complete-username-taken = Dieser Benutzername ist vergeben. Wählen Sie einen anderen.
change-password-title = Passwort ändern
change-password-lead = Ihre anderen Sitzungen enden, und Apps bitten Sie, sich erneut anzumelden.
change-password-submit = Passwort ändern
change-password-wrong = Ihr aktuelles Passwort ist nicht richtig.
change-email-title = E-Mail-Adresse ändern
change-email-lead = Wir senden einen Link an die neue Adresse, um sie zu bestätigen. Bis dahin sehen Apps sie als unbestätigt.
change-email-lead-no-mail = Apps, denen Sie Ihre E-Mail-Adresse zeigen, erhalten die neue.
change-email-new = Neue E-Mail-Adresse
change-email-submit = Adresse ändern
change-email-invalid = Das ist keine gültige E-Mail-Adresse.
account-sign-in = Passwort und E-Mail
account-change = Ändern
account-email-none = Keine
account-email-verified = bestätigt
account-email-unverified = nicht bestätigt
account-email-confirm-help = Ihre Adresse ist noch nicht bestätigt.
account-email-resend = Link erneut senden
notice-password-changed = Ihr Passwort ist geändert. Ihre anderen Sitzungen wurden beendet.
notice-email-changed = Ihre E-Mail-Adresse ist geändert. Bestätigen Sie sie über den Link in Ihrem Postfach.
notice-email-changed-no-mail = Ihre E-Mail-Adresse ist geändert.
notice-verification-sent = Wir haben einen neuen Link gesendet. Sehen Sie in Ihrem Postfach nach.
change-email-stale = Ihr Konto wurde inzwischen in einem anderen Fenster geändert. Nichts wurde gespeichert: Versuchen Sie es erneut.
