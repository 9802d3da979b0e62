@guide-invalid-client
Feature: Invalid client credentials
  The identity provider rejects the proxy's client_id or client_secret.

  Scenario: A wrong client secret is shown as "Invalid client" with the fix
    Given the client secret registered at the identity provider is "a-rotated-secret"
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Invalid client"

  @cap-strict-wording
  Scenario: A secret pasted with a trailing space is caught before starting
    Given the proxy configuration file:
      """
      sso:
        enabled: true
        providers:
          google:
            type: "oauth2"
            client_id: "id"
            client_secret: "pasted-secret "
            discovery_url: "{google_discovery}"
            scopes: ["openid", "email"]
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "has leading or trailing spaces"
    And the output does not contain "pasted-secret"

  Scenario: The fix: the right secret signs in
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token

  Scenario: A client id the identity provider does not know: "Error 401: invalid_client"
    Given the proxy configuration file:
      """
      server:
        port: {port}
      sso:
        enabled: true
        database_path: "./sso_auth.db"
        providers:
          google:
            type: "oauth2"
            client_id: "not-registered-anywhere"
            client_secret: "${KIT_CLIENT_SECRET}"
            discovery_url: "{google_discovery}"
            scopes: ["openid", "email"]
      """
    And the proxy is running
    When I sign in with "google"
    Then the page says "Error 401: invalid_client"
