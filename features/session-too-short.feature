@guide-session-too-short
Feature: Session expires too quickly
  The configured session_lifetime_hours is what the database records.

  Scenario: A lifetime of 48 hours is honoured
    Given the authorization setting session_lifetime_hours is 48
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token
    When I run the diagnosis `SELECT CAST(ROUND((julianday(auth_expires_at) - julianday(created_at)) * 24) AS INTEGER) FROM agent_tokens`
    Then the diagnosis shows "Integer(48)"

  Scenario: An IdP clock two minutes ahead is within tolerance
    Given the identity provider's clock is 120 seconds ahead
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Check server console"

  @cap-strict-wording
  Scenario: An IdP clock ten minutes ahead is refused with a hint about clocks
    Given the identity provider's clock is 600 seconds ahead
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "check the clocks"
