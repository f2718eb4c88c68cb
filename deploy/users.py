"""Path 1's user pool: the stack `imgpipe-STAGE-users`, made before `chalice deploy`.

Deployed stages default to AUTH=cognito: each user's token `sub` is the owner
of the images they upload (chalicelib/identity.py). Cognito, not a generic
OIDC JWT authorizer: Chalice's REST API has a Cognito authorizer in every
deploy path (`chalice deploy`, the SAM and Terraform packages), while JWT
authorizers belong to HTTP APIs, and a custom Lambda authorizer verifying any
issuer's JWKS would be a second function on every request's path. Another
OIDC provider (Google, Auth0, an enterprise IdP) joins as an identity provider
of this pool, and its users still get the pool's tokens.

The pool outlives the stack (Retain: it holds the users); sign-up is by an
admin's invitation unless SelfSignUp=true. The page signs in with the hosted UI
(authorization code with PKCE, a public client without a secret).
"""

import json
from pathlib import Path

ADMIN_GROUP = "imgpipe-admins"


# The parameters the pool's resources read, with path 1's defaults (PageUrls has none there).
POOL_PARAMETERS = {
    "PageUrls": {"Type": "CommaDelimitedList",
                 "Description": "Where the upload page is served (sign-in returns there)."},
    "AdminGroup": {"Type": "String", "Default": ADMIN_GROUP},
    "SelfSignUp": {"Type": "String", "Default": "false", "AllowedValues": ["true", "false"]},
}
POOL_CONDITIONS = {"InviteOnly": {"Fn::Equals": [{"Ref": "SelfSignUp"}, "false"]}}


def pool_resources() -> dict:
    """The pool, its PKCE page client, hosted UI domain and admin group: path 1's users stack
    and path 2's packaged template both take them from here (they read Stage and POOL_PARAMETERS)."""
    return {
        "UserPool": {
            "Type": "AWS::Cognito::UserPool",
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
            "Properties": {
                "UserPoolName": {"Fn::Sub": "imgpipe-${Stage}"},
                "UsernameAttributes": ["email"],
                "AutoVerifiedAttributes": ["email"],
                "AdminCreateUserConfig": {"AllowAdminCreateUserOnly": {"Fn::If": ["InviteOnly", True, False]}},
                "AccountRecoverySetting": {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]},
                "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": True,
                                                "RequireNumbers": True, "RequireUppercase": True,
                                                "RequireSymbols": False}},
            },
        },
        "PageClient": {
            "Type": "AWS::Cognito::UserPoolClient",
            "Properties": {
                "UserPoolId": {"Ref": "UserPool"},
                "ClientName": {"Fn::Sub": "imgpipe-${Stage}-page"},
                "GenerateSecret": False,  # a browser cannot keep one: PKCE instead
                "AllowedOAuthFlowsUserPoolClient": True,
                "AllowedOAuthFlows": ["code"],
                "AllowedOAuthScopes": ["openid", "email"],
                "CallbackURLs": {"Ref": "PageUrls"},
                "LogoutURLs": {"Ref": "PageUrls"},
                "SupportedIdentityProviders": ["COGNITO"],
                "ExplicitAuthFlows": ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"],
                "PreventUserExistenceErrors": "ENABLED",
                "IdTokenValidity": 1, "AccessTokenValidity": 1, "RefreshTokenValidity": 30,
                "TokenValidityUnits": {"IdToken": "hours", "AccessToken": "hours", "RefreshToken": "days"},
            },
        },
        "HostedUiDomain": {
            "Type": "AWS::Cognito::UserPoolDomain",
            # A prefix is unique per region across all accounts: the account id keeps it ours.
            "Properties": {"UserPoolId": {"Ref": "UserPool"},
                           "Domain": {"Fn::Sub": "imgpipe-${Stage}-${AWS::AccountId}"}},
        },
        "Admins": {
            "Type": "AWS::Cognito::UserPoolGroup",
            "Properties": {"UserPoolId": {"Ref": "UserPool"}, "GroupName": {"Ref": "AdminGroup"},
                           "Description": "Members see, change and delete every user's images."},
        },
    }


SIGN_IN_URL_SUB = "https://${HostedUiDomain}.auth.${AWS::Region}.amazoncognito.com"


def users_stack_template() -> dict:
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": "imgpipe: the user pool whose tokens the API accepts, its hosted UI and admin group.",
        "Parameters": {"Stage": {"Type": "String"}, **POOL_PARAMETERS},
        "Conditions": dict(POOL_CONDITIONS),
        "Resources": pool_resources(),
        "Outputs": {
            "UserPoolArn": {"Value": {"Fn::GetAtt": ["UserPool", "Arn"]}},
            "UserPoolId": {"Value": {"Ref": "UserPool"}},
            "PageClientId": {"Value": {"Ref": "PageClient"}},
            "SignInUrl": {"Value": {"Fn::Sub": SIGN_IN_URL_SUB}},
        },
    }


def page_urls(allowed_origins: str, deployed_file: Path) -> str:
    """The page's own URL once Chalice has deployed the API, and each ALLOWED_ORIGINS origin
    (a site embedding the upload); Cognito wants https (http only for localhost)."""
    urls = []
    if deployed_file.exists():
        deployed = json.loads(deployed_file.read_text())
        urls += [r["rest_api_url"] for r in deployed.get("resources", []) if r.get("rest_api_url")]
    urls += [o.strip().rstrip("/") + "/" for o in allowed_origins.split(",") if o.strip() and o.strip() != "*"]
    return ",".join(dict.fromkeys(urls)) or "https://localhost/"


def stage_identity(outputs: dict[str, str], admin_group: str = ADMIN_GROUP) -> dict[str, str]:
    """The API's environment for the pool (config.json), from the users stack's outputs."""
    return {"AUTH": "cognito", "COGNITO_USER_POOL_ARN": outputs["UserPoolArn"], "ADMIN_GROUP": admin_group,
            "SIGN_IN_URL": outputs["SignInUrl"], "SIGN_IN_CLIENT_ID": outputs["PageClientId"]}
