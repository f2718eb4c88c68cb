# Who may call the API (AUTH=cognito, the tf stage's default): a user pool this configuration
# makes, or an existing one (var.cognito_user_pool_arn). Mirrors deploy/users.py (paths 1 and 2):
# invitation-only sign-up, the hosted UI with a public PKCE client for the upload page, and the
# admin group whose members see every image. The API key stays, for the usage plan's quota only.

variable "cognito_user_pool_arn" {
  description = "An existing user pool whose tokens the API accepts (then also sign_in_url and sign_in_client_id); empty: this configuration makes one."
  type        = string
  default     = ""
}

variable "sign_in_url" {
  description = "With an existing pool: https://DOMAIN of its hosted UI, where the upload page signs in."
  type        = string
  default     = ""
}

variable "sign_in_client_id" {
  description = "With an existing pool: a public app client of it with the authorization code flow (PKCE)."
  type        = string
  default     = ""
}

variable "page_urls" {
  description = "Where the upload page is served: sign-in returns there. After the first apply, add the api_url output."
  type        = list(string)
  default     = ["https://localhost/"]
}

variable "admin_group" {
  description = "Members of this group of the pool see, change and delete every user's images."
  type        = string
  default     = "imgpipe-admins"
}

variable "self_sign_up" {
  description = "Let anyone sign up; false: users are invited by an admin (aws cognito-idp admin-create-user)."
  type        = bool
  default     = false
}

variable "user_pool_deletion_protection" {
  description = "The pool holds the users: destroy refuses it until this is false and applied."
  type        = bool
  default     = true
}

locals {
  create_user_pool  = var.cognito_user_pool_arn == ""
  user_pool_arn     = local.create_user_pool ? aws_cognito_user_pool.users[0].arn : var.cognito_user_pool_arn
  sign_in_url       = local.create_user_pool ? "https://${aws_cognito_user_pool_domain.hosted_ui[0].domain}.auth.${data.aws_region.chalice.name}.amazoncognito.com" : var.sign_in_url
  sign_in_client_id = local.create_user_pool ? aws_cognito_user_pool_client.page[0].id : var.sign_in_client_id
}

resource "aws_cognito_user_pool" "users" {
  count                    = local.create_user_pool ? 1 : 0
  name                     = "imgpipe-${var.stage}"
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  deletion_protection      = var.user_pool_deletion_protection ? "ACTIVE" : "INACTIVE"
  admin_create_user_config {
    allow_admin_create_user_only = !var.self_sign_up
  }
  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }
  password_policy {
    minimum_length    = 12
    require_lowercase = true
    require_numbers   = true
    require_uppercase = true
    require_symbols   = false
  }
}

resource "aws_cognito_user_pool_client" "page" {
  count                                = local.create_user_pool ? 1 : 0
  name                                 = "imgpipe-${var.stage}-page"
  user_pool_id                         = aws_cognito_user_pool.users[0].id
  generate_secret                      = false # a browser cannot keep one: PKCE instead
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email"]
  callback_urls                        = var.page_urls
  logout_urls                          = var.page_urls
  supported_identity_providers         = ["COGNITO"]
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_USER_SRP_AUTH"]
  prevent_user_existence_errors        = "ENABLED"
  id_token_validity                    = 1
  access_token_validity                = 1
  refresh_token_validity               = 30
  token_validity_units {
    id_token      = "hours"
    access_token  = "hours"
    refresh_token = "days"
  }
}

# A prefix is unique per region across all accounts: the account id keeps it ours.
resource "aws_cognito_user_pool_domain" "hosted_ui" {
  count        = local.create_user_pool ? 1 : 0
  domain       = "imgpipe-${var.stage}-${data.aws_caller_identity.chalice.account_id}"
  user_pool_id = aws_cognito_user_pool.users[0].id
}

resource "aws_cognito_user_group" "admins" {
  count        = local.create_user_pool ? 1 : 0
  name         = var.admin_group
  user_pool_id = aws_cognito_user_pool.users[0].id
  description  = "Members see, change and delete every user's images."
}

output "user_pool_arn" {
  value = local.user_pool_arn
}

output "page_client_id" {
  value = local.sign_in_client_id
}

output "sign_in_url" {
  value = local.sign_in_url
}
