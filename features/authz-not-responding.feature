@guide-authz-not-responding
Feature: Authorization API not responding
  Symptoms: "Authorization API timeout", "Failed to connect to authorization API", all users denied.

  Background:
    Given enterprise authorization with a 1 second timeout
    And the authorization API allows only "alice@company.com"

  Scenario: A slow API times out and access is denied
    Given the authorization API answers after 2500 ms
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Access denied"
    And the console shows "Authorization API timeout"

  Scenario: A refused connection denies access
    Given the authorization API refuses connections
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Access denied"
    And the console shows "Failed to connect to authorization API"

  Scenario: The fix: a larger api_timeout_seconds lets the slow API answer
    Given the authorization setting api_timeout_seconds is 5
    And the authorization API answers after 1500 ms
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then I receive an agent token

  Scenario: The guide's fallback: switching to single_user mode while the API is down
    Given the authorization API refuses connections
    And the authorization setting mode is "single_user"
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    And I enter the confirmation code printed for "alice@company.com"
    Then I receive an agent token
