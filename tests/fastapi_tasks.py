"""A resource server written the way the FastAPI security tutorials teach: scopes declared on
the routes with Security(...), our JWKS through PyJWKClient, jwt.decode with
algorithms=["RS256"], issuer and audience, and the RFC 9068 `scope` claim.

    python3 fastapi_tasks.py JWKS_URI ISSUER AUDIENCE PORT
"""
import sys

import jwt
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Security, status
from fastapi.security import OAuth2AuthorizationCodeBearer, SecurityScopes

JWKS_URI, ISSUER, AUDIENCE, PORT = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

oauth2_scheme = OAuth2AuthorizationCodeBearer(
    authorizationUrl=f"{ISSUER}/authorize",
    tokenUrl=f"{ISSUER}/token",
    scopes={"tasks:read": "Read your tasks", "tasks:write": "Create and edit your tasks"},
)
jwks_client = jwt.PyJWKClient(JWKS_URI)
app = FastAPI()


def get_current_user(security_scopes: SecurityScopes, token: str = Depends(oauth2_scheme)):
    if security_scopes.scopes:
        authenticate_value = f'Bearer scope="{security_scopes.scope_str}"'
    else:
        authenticate_value = "Bearer"
    try:
        signing_key = jwks_client.get_signing_key_from_jwt(token)
        payload = jwt.decode(
            token, signing_key.key, algorithms=["RS256"], issuer=ISSUER, audience=AUDIENCE
        )
    except jwt.PyJWTError:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="Could not validate credentials",
            headers={"WWW-Authenticate": authenticate_value},
        )
    token_scopes = payload.get("scope", "").split()
    for scope in security_scopes.scopes:
        if scope not in token_scopes:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN,
                detail="Not enough permissions",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'
                },
            )
    return payload


@app.get("/tasks")
def read_tasks(user: dict = Security(get_current_user, scopes=["tasks:read"])):
    return {"owner": user["sub"], "tasks": []}


@app.post("/tasks")
def create_task(user: dict = Security(get_current_user, scopes=["tasks:write"])):
    return {"owner": user["sub"], "created": True}


@app.get("/health")
def health():
    return {"ok": True}


if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning")
