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
    When I sign in with "<script>alert(1)</script>"
    Then the page does not say "<script>alert(1)</script>x"
    And the page status is 404

  Scenario: Unauthenticated floods do not grow the database
    Given the proxy is running
    When the agent sends a chat request without a token
    And I run the diagnosis `SELECT COUNT(*) FROM agent_tokens`
    Then the diagnosis shows "Integer(0)"
