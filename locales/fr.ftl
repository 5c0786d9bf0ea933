# Gatehouse en français. Chaque message de en.ftl doit figurer ici (un test le vérifie).

## Shared
brand = Gatehouse
title-suffix = Gatehouse
continue = Continuer
cancel = Annuler
sign-in-as = Connecté en tant que <strong>{ $username }</strong>.
need-help = Besoin d’aide ? Contactez votre administrateur.
need-help-contact = Besoin d’aide ? Contactez { $contact }.

## Sign-in
login-title = Connexion
login-continue-to = pour continuer vers <strong>{ $client }</strong>
login-username = Nom d’utilisateur
login-password = Mot de passe
login-submit = Se connecter
login-or = ou
login-passkey = Se connecter avec une clé d’accès
login-invalid = Nom d’utilisateur ou mot de passe incorrect.

## Second step
factor-title = Connexion en deux étapes
factor-asks = <strong>{ $client }</strong> demande une deuxième étape.
factor-signing-in-as = Connexion en tant que <strong>{ $username }</strong>.
factor-code-label = Code de votre application d’authentification
factor-code-help = Six chiffres. Téléphone perdu ? Saisissez plutôt l’un de vos codes de récupération.
factor-recovery-label = Code de récupération
factor-recovery-help = Chacun de vos codes de récupération fonctionne une fois.
factor-recovery-submit = Utiliser un code de récupération
factor-passkey = Utiliser une clé d’accès
factor-cannot = Aucune de ces options n’est possible ?
factor-wrong = Ce code est incorrect. Vérifiez l’heure de votre téléphone, puis essayez le code le plus récent.
factor-replayed = Ce code a déjà été utilisé. Attendez que l’application en affiche un nouveau.

## Help with the second step
help-missing-title = Connexion en deux étapes requise
help-lost-title = Impossible de terminer la deuxième étape ?
help-missing-client = <strong>{ $client }</strong> exige une deuxième étape à la connexion, et votre compte n’en a pas encore.
help-missing-org = Votre organisation exige une deuxième étape à la connexion, et votre compte n’en a pas encore.
help-missing-what = Configurez une application d’authentification ou une clé d’accès sur la page de votre compte, puis revenez à l’application et reconnectez-vous.
help-set-up = Configurer la connexion en deux étapes
help-back-to = Retour à { $client }
help-back-to-app = Retour à l’application
help-lost = Si vous avez perdu votre application d’authentification et vos codes de récupération, un administrateur peut supprimer vos seconds facteurs : vous vous connecterez alors avec votre mot de passe et en configurerez de nouveaux.
help-back = Retour à la deuxième étape

## Consent
consent-title = Autoriser l’accès
consent-wants = { $client } souhaite
consent-on-behalf = accéder à votre compte en votre nom.
consent-deny = Refuser
consent-allow = Autoriser
scope-openid = Savoir qui vous êtes (l’identifiant de votre compte)
scope-profile = Voir votre nom, votre nom d’utilisateur et votre profil
scope-email = Voir votre adresse e-mail
scope-phone = Voir votre numéro de téléphone
scope-address = Voir votre adresse postale
scope-offline_access = Rester connecté quand vous ne l’utilisez pas (accès hors ligne)
scope-groups = Voir les groupes dont vous faites partie

## Account
account-title = Votre compte
account-username = Nom d’utilisateur
account-name = Nom
account-email = E-mail
account-subject = Identifiant
account-signed-in = Connecté le
account-your-name = Votre nom
account-your-name-help = Les applications à qui vous montrez votre profil reçoivent ces informations.
account-full-name = Nom complet
account-given-name = Prénom
account-middle-name = Deuxième prénom
account-family-name = Nom de famille
account-nickname = Surnom
account-save-name = Enregistrer le nom
account-two-step = Connexion en deux étapes
account-two-step-on = Après votre mot de passe, Gatehouse demande l’un de ces moyens.
account-two-step-off = Ajoutez une deuxième étape après votre mot de passe : un mot de passe volé ne suffira plus à ouvrir votre compte.
account-app = Application d’authentification
account-app-on = Activée
account-app-off = Non configurée
account-set-up = Configurer
account-remove = Supprimer
account-passkey-added = Clé d’accès · ajoutée le { $created }
account-passkey-used = · utilisée le { $used }
account-remove-passkey = Supprimer la clé d’accès { $name }
account-recovery = Codes de récupération
account-recovery-none = Aucun pour l’instant : sans eux, perdre vos appareils vous bloque
account-recovery-left = { $count ->
    [one] 1 inutilisé
   *[other] { $count } inutilisés
}
account-recovery-generate = Générer des codes
account-recovery-regenerate = Générer de nouveaux codes
account-passkey-name = Nom d’une nouvelle clé d’accès
account-passkey-default = Clé d’accès
account-passkey-add = Ajouter une clé d’accès
account-passkey-needs-js = L’ajout d’une clé d’accès nécessite JavaScript.
account-apps = Applications connectées
account-apps-none = Aucune application n’a accès à votre compte.
account-apps-remove = Retirer l’accès
account-sign-out = Se déconnecter

## Authenticator enrolment
totp-title = Configurer une application d’authentification
totp-scan = Ouvrez une application d’authentification (comme Google Authenticator, Microsoft Authenticator, 1Password ou Aegis) et scannez ce code.
totp-qr-label = QR code pour votre application d’authentification
totp-manual = Impossible de scanner ? Saisissez cette clé à la main, comme code basé sur le temps :
totp-enter = Saisissez le code à six chiffres que l’application affiche maintenant.
totp-code-label = Code de l’application
totp-submit = Activer la connexion en deux étapes
totp-wrong = Ce code est incorrect. Saisissez le code que l’application affiche maintenant.

## Recovery codes
codes-title = Conservez vos codes de récupération
codes-lead = Si vous perdez votre application d’authentification ou vos clés d’accès, chacun de ces codes vous connecte une fois. Ils ne sont affichés que maintenant : imprimez-les ou gardez-les dans votre gestionnaire de mots de passe.
codes-replace = Générer de nouveaux codes sur la page de votre compte rend ceux-ci inutilisables.
codes-saved = Je les ai conservés

## Sign-out
logout-title = Déconnexion
logout-question = Se déconnecter ?
logout-asks = <strong>{ $client }</strong> demande à vous déconnecter de Gatehouse.
logout-browser = Vous serez déconnecté de Gatehouse dans ce navigateur.
logout-submit = Se déconnecter
logged-out-title = Déconnecté
logged-out-heading = Vous êtes déconnecté
logged-out-left = Vous avez quitté <strong>{ $client }</strong> et Gatehouse dans ce navigateur.
logged-out-close = Vous pouvez fermer cette fenêtre.
logged-out-again = Se reconnecter

## Returning to the application
form-post-title = Continuer
form-post-heading = Retour à l’application
form-post-lead = Si rien ne se passe d’ici un instant, appuyez sur Continuer.

## Start page
index-heading = Fournisseur OpenID Connect
index-issuer = Émetteur
index-discovery = Document de découverte
index-jwks = Clés de signature (JWKS)
index-account = Votre compte

## Errors
error-bad-request = Cette demande ne peut pas aboutir
error-internal-title = Une erreur s’est produite
error-internal = Veuillez réessayer dans un instant.
error-unavailable-title = Momentanément indisponible
error-unavailable = Gatehouse ne joint pas sa base de données pour le moment. Réessayez dans quelques secondes.
error-not-found-title = Introuvable
error-not-found = Il n’y a rien à cette adresse.
error-form-expired-title = Ce formulaire a expiré
error-form-expired = Rechargez la page et réessayez.
error-throttled-title = Trop de tentatives de connexion
error-throttled = Attendez { $seconds } secondes, puis réessayez.
error-flow-expired = Cette demande de connexion a expiré ou a déjà abouti. Revenez à l’application et recommencez.
error-flow-other-browser = Cette demande de connexion a été commencée dans un autre navigateur. Revenez à l’application et recommencez.
error-flow-invalid = Cette demande de connexion n’est pas valide. Revenez à l’application et recommencez.
error-flow-completed = Cette demande de connexion a déjà abouti.
error-client-gone = L’application n’est plus enregistrée.
error-form-incomplete = Le formulaire était incomplet.
error-too-large-title = La demande est trop volumineuse
error-too-slow-title = La demande a pris trop de temps
error-uri-too-long-title = L’adresse est trop longue
error-start-again = Revenez à l’application et recommencez.

## Passkey messages (shown by the page script)
passkey-duplicate = Cette clé d’accès est déjà enregistrée.
passkey-unknown = Cette clé d’accès n’est pas enregistrée ici. Connectez-vous plutôt avec votre mot de passe.
passkey-rejected = La clé d’accès n’a pas pu être vérifiée. Réessayez.
passkey-malformed = La demande était mal formée. Rechargez la page et réessayez.
passkey-page-expired = Cette page a expiré. Rechargez-la et réessayez.
passkey-unavailable = Les clés d’accès ne sont pas disponibles sur ce serveur.
passkey-request-expired = Cette demande de clé d’accès a expiré. Réessayez.
passkey-sign-in-first = Connectez-vous d’abord.
passkey-step-up = Confirmez d’abord votre identité avec votre deuxième étape : déconnectez-vous puis reconnectez-vous.
passkey-name-invalid = Le nom d’une clé d’accès fait au plus 60 caractères, sur une ligne.
passkey-closed = La fenêtre de la clé d’accès a été fermée. Réessayez quand vous serez prêt.
passkey-failed = Une erreur s’est produite. Réessayez.
error-admin-only-title = Réservé aux administrateurs
error-admin-only = Cette page est réservée aux administrateurs de Gatehouse. Demandez à l'un d'eux le rôle d'administrateur si vous en avez besoin.
error-admin-needs-mfa = Les administrateurs doivent se connecter en deux étapes. Configurez d'abord une application d'authentification ou une clé d'accès sur la page de votre compte.
login-confirm = Confirmez votre identité pour accéder à la console d'administration.
account-admin-console = Console d'administration

## Account links: password reset, email verification, sign-up
login-forgot = Mot de passe oublié ?
login-signup = Créer un compte
back-to-sign-in = Retour à la connexion
back-to-account = Retour à votre compte
go-to-account = Aller à votre compte
forgot-title = Réinitialiser votre mot de passe
forgot-lead = Saisissez votre nom d’utilisateur ou votre adresse e-mail. Nous vous enverrons un lien pour choisir un nouveau mot de passe.
forgot-who = Nom d’utilisateur ou adresse e-mail
forgot-submit = M’envoyer un lien
forgot-sent = Si un compte correspond, nous avons envoyé un lien à son adresse e-mail. Le lien fonctionne une fois, pendant { $minutes } minutes.
forgot-sent-help = Rien reçu ? Regardez dans vos indésirables, ou redemandez dans quelques minutes.
reset-title = Choisir un nouveau mot de passe
reset-for = Pour le compte <strong>{ $username }</strong>. Vous serez déconnecté partout ailleurs.
reset-submit = Enregistrer et se connecter
password-new = Nouveau mot de passe
password-confirm = Nouveau mot de passe, à nouveau
password-current = Mot de passe actuel
password-rules = Au moins { $min } caractères. Les longues phrases sont bienvenues ; les mots de passe courants sont refusés.
password-mismatch = Les deux nouveaux mots de passe ne sont pas identiques.
password-too-short = Le mot de passe doit comporter au moins { $min } caractères.
password-too-long = Le mot de passe doit faire au plus 1024 octets.
password-common = Ce mot de passe fait partie des plus utilisés. Choisissez-en un autre.
password-personal = Le mot de passe ne doit pas être votre nom d’utilisateur ni votre adresse e-mail.
link-invalid-title = Ce lien ne fonctionne plus
link-invalid = Il a expiré, a déjà servi, ou un lien plus récent a été envoyé. Demandez un nouveau lien.
link-throttled-title = Trop de demandes
link-throttled = Trop de demandes sont venues de votre réseau. Attendez une heure, puis réessayez.
verify-title = Confirmer votre adresse e-mail
verify-lead = Confirmez que <strong>{ $email }</strong> est votre adresse.
verify-account = Pour le compte <strong>{ $username }</strong>.
verify-submit = Confirmer mon adresse
verify-done = <strong>{ $email }</strong> est confirmée. Les applications auxquelles vous vous connectez peuvent s’y fier.
signup-title = Créer un compte
signup-lead = Saisissez votre adresse e-mail. Nous vous enverrons un lien pour choisir votre nom d’utilisateur et votre mot de passe.
signup-email = Adresse e-mail
signup-submit = M’envoyer un lien
signup-sent = Consultez votre boîte de réception : nous avons envoyé un lien pour continuer. Il fonctionne une fois, pendant 24 heures.
signup-have-account = Déjà un compte ? Se connecter
complete-title = Créer votre compte
complete-for = Votre adresse : <strong>{ $email }</strong>.
complete-username-help = Lettres, chiffres et . _ - @, jusqu’à 64 caractères. Vous vous connectez avec.
complete-submit = Créer le compte
complete-username-taken = Ce nom d’utilisateur est pris. Choisissez-en un autre.
change-password-title = Changer votre mot de passe
change-password-lead = Vos autres sessions prennent fin, et les applications vous demanderont de vous reconnecter.
change-password-submit = Changer le mot de passe
change-password-wrong = Votre mot de passe actuel n’est pas le bon.
change-email-title = Changer votre adresse e-mail
change-email-lead = Nous enverrons un lien à la nouvelle adresse pour la confirmer. D’ici là, les applications la voient comme non confirmée.
change-email-lead-no-mail = Les applications qui peuvent voir votre adresse e-mail recevront la nouvelle.
change-email-new = Nouvelle adresse e-mail
change-email-submit = Changer l’adresse
change-email-invalid = Ce n’est pas une adresse e-mail valide.
account-sign-in = Mot de passe et e-mail
account-change = Changer
account-email-none = Aucune
account-email-verified = confirmée
account-email-unverified = non confirmée
account-email-confirm-help = Votre adresse n’est pas encore confirmée.
account-email-resend = Renvoyer le lien
notice-password-changed = Votre mot de passe est changé. Vos autres sessions ont pris fin.
notice-email-changed = Votre adresse e-mail est changée. Confirmez-la grâce au lien reçu.
notice-email-changed-no-mail = Votre adresse e-mail est changée.
notice-verification-sent = Nous avons envoyé un nouveau lien. Consultez votre boîte de réception.
change-email-stale = Votre compte a été modifié entre-temps dans une autre fenêtre. Rien n’a été enregistré : réessayez.
