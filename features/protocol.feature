@protocol-relying-party
Feature: The proxy is a strict OpenID Connect relying party
  Every ID token fault of the mock identity provider is refused; accepted spellings are accepted.

  Background:
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next

  Scenario Outline: An ID token with <fault> is refused
    Given the identity provider's ID tokens have the fault <fault>
    When I sign in with "google"
    Then the sign-in is refused
    And the page shows no agent token

    Examples:
      | fault           |
      | bad_signature   |
      | unpublished_key |
      | alg_none        |
      | wrong_issuer    |
      | wrong_audience  |
      | missing_sub     |
      | missing_iat     |
      | expired         |
      | iat_in_future   |
      | wrong_nonce     |
      | nbf_in_future   |
      # OpenID Connect RP certification: a key of another issuer's JWKS, aud arrays without or with a wrong azp,
      # an HS256 token whose HMAC secret is the published RSA public key.
      | foreign_issuer_key    |
      | aud_array_without_azp |
      | aud_array_wrong_azp   |
      | hs256_with_public_key |

  Scenario: A token without kid is refused while the JWKS publishes several keys
    Given the identity provider rotates its signing key, keeping the previous one
    And the identity provider's ID tokens have the fault missing_kid
    When I sign in with "google"
    Then the sign-in is refused
    And the page shows no agent token

  Scenario: An unverified email is refused
    Given the identity provider's ID tokens have the fault email_not_verified
    When I sign in with "google"
    Then the sign-in is refused

  # SPEC: an address counts only when the provider vouches for it; a missing claim is no vouching.
  Scenario: An ID token without any email_verified claim is refused
    Given the identity provider's ID tokens have the fault missing_email_verified
    When I sign in with "google"
    Then the page status is 403
    And the page shows no agent token
    And the console shows no confirmation code

  Scenario: Google's issuer spelled without https:// is accepted
    Given the identity provider's ID tokens have the fault issuer_without_scheme
    When I sign in with "google"
    Then the page says "Check server console"

  Scenario: A rotated signing key is fetched again and accepted
    Given the identity provider rotates its signing key
    When I sign in with "google"
    Then the page says "Check server console"

  @cap-strict-wording
  Scenario: Entra's common endpoint: the {tenantid} issuer filled with the token's tenant
    Given the identity provider knows "carol@contoso.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10"
    And the identity provider signs in "carol@contoso.com" next
    When I sign in with "microsoft"
    And I enter the confirmation code printed for "carol@contoso.com"
    Then I receive an agent token
    When I run the diagnosis `SELECT user_id FROM agent_tokens`
    Then the diagnosis shows "microsoft:b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10:"

  # SPEC: only a tenant listed in allowed_tenants vouches for its addresses, whatever address the account claims.
  Scenario: An Entra account from a tenant that is not allowed is refused
    Given the identity provider knows "alice@company.com" in the Entra tenant "0d0e0a0d-0000-4000-8000-00000000beef"
    And the identity provider signs in "alice@company.com" next
    When I sign in with "microsoft"
    Then the page status is 403
    And the page shows no agent token
    And the console shows no confirmation code

  # SPEC: the address comes from the email claim; preferred_username never stands in for a missing one.
  Scenario: An Entra account without an email claim is refused
    Given the identity provider knows "bob@company.com" in the Entra tenant "b9c6a2f4-1f3e-4d8a-9c3b-2e7d5f6a8b10" without an email claim
    And the identity provider signs in "bob@company.com" next
    When I sign in with "microsoft"
    Then the page status is 403
    And the page shows no agent token
    And the console shows no confirmation code

  Scenario: A declined consent is "Access denied"
    Given the user declines at the identity provider
    When I sign in with "google"
    Then the page says "Access denied"

  @cap-pkce
  Scenario: The authorization request uses PKCE S256, state and nonce
    When I sign in with "google"
    Then the sign-in went to the identity provider with PKCE S256, a state and a nonce
