@guide-provider-not-configured
Feature: Provider not configured
  Symptoms: "Provider 'google' not configured", the flow does not start, the provider page is empty.

  @cap-strict-wording
  Scenario: Provider names are case-sensitive: "Google" is refused with the fix
    Given the proxy configuration file:
      """
      sso:
        enabled: true
        providers:
          Google:
            type: "oauth2"
            client_id: "id"
            client_secret: "s"
            discovery_url: "{google_discovery}"
            scopes: ["openid", "email"]
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "provider names are case-sensitive"
    And the output says "rename it to `google:`"

  Scenario: A provider the proxy does not have answers "Provider 'google' not configured"
    Given the proxy configuration file:
      """
      server:
        port: {port}
      sso:
        enabled: true
        database_path: "./sso_auth.db"
        providers:
          microsoft:
            type: "oauth2"
            client_id: "kit-client"
            client_secret: "${KIT_CLIENT_SECRET}"
            discovery_url: "{microsoft_discovery}"
            scopes: ["openid", "email"]
      """
    And the proxy is running
    When I sign in with "google"
    Then the page status is 404
    And the page says "Provider 'google' not configured"
    And the page says "microsoft"

  Scenario: The provider page lists every configured provider
    Given the proxy is running
    When I open the login page
    Then the page says "google"
    And the page says "microsoft"

  @cap-strict-wording
  Scenario: Every missing required field is named, and a wrong indentation is pointed out
    Given the proxy configuration file:
      """
      sso:
        enabled: true
        providers:
          google:
          type: "oauth2"
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "sso.providers.google.client_id: required field is missing"
    And the output says "sso.providers.google.discovery_url: required field is missing"
    And the output says "`type` is a setting, not a provider: check indentation"
