"""A resource server written the way the FastAPI tutorials teach it: PyJWT's PyJWKClient and
jwt.decode with algorithms=["RS256"] (or the one given), issuer and audience. Prints the
token's subject."""
import sys

import jwt
from jwt import PyJWKClient

jwks_uri, issuer, audience, token = sys.argv[1:5]
algorithm = sys.argv[5] if len(sys.argv) > 5 else "RS256"
signing_key = PyJWKClient(jwks_uri).get_signing_key_from_jwt(token)
claims = jwt.decode(token, signing_key.key, algorithms=[algorithm], issuer=issuer,
                    audience=audience)
print(claims["sub"])
