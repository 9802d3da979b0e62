@security
Feature: Security rules

  Scenario: The token is shown once, in the page body, never in a URL or a log line
    Given the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token
    And the page header content-security-policy is present
    And the page header x-frame-options is present
    And the console never shows the agent token

  Scenario: Reflected input is escaped
    Given the proxy is running
    When I sign in with "<img src=x onerror=alert(1)>"
    Then the page status is 404
    And the page says "Provider '<img src=x onerror=alert(1)>' not configured"
    And the page source does not contain "<img src=x onerror=alert(1)>"

  Scenario: Unauthenticated floods do not grow the database
    Given the proxy is running
    When the agent sends 30 chat requests with made-up tokens
    And I run the diagnosis `SELECT (SELECT COUNT(*) FROM agent_tokens) + (SELECT COUNT(*) FROM pending_authorizations) + (SELECT COUNT(*) FROM rate_limits)`
    Then the diagnosis shows "Integer(0)"
