@guide-authz-errors
Feature: Authorization API errors
  "Authorization API error" in the proxy logs: HTTP 500, intermittent failures, malformed replies.

  Background:
    Given enterprise authorization with a 5 second timeout
    And the authorization API allows only "alice@company.com"

  Scenario: HTTP 500 denies access and is logged
    Given the authorization API fails with HTTP 500
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Access denied"
    And the console shows "Authorization API error"

  Scenario: A malformed reply is an error, never a yes
    Given the authorization API answers malformed JSON
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page shows no agent token
    And the console shows "Authorization API error"

  Scenario: "authorized": "true" as a string is malformed, never a yes
    Given the authorization API answers "authorized" as a string
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page shows no agent token
    And the console shows "Authorization API error"

  Scenario: Intermittent failures: every second call fails
    Given the authorization API fails every 2nd call
    And the proxy is running
    And the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then I receive an agent token
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then the page says "Access denied"
    And the console shows "Authorization API error"
