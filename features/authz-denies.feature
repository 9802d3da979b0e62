@guide-authz-denies
Feature: Authorization API always denies
  The API answers {"authorized": false}; the user sees the reason and whom to contact.

  Background:
    Given enterprise authorization with a 5 second timeout
    And the authorization API allows only "alice@company.com"
    And the proxy is running

  Scenario: A user not on the list is denied with the API's reason
    Given the identity provider signs in "bob@example.com" next
    When I sign in with "google"
    Then the page status is 403
    And the page says "not in the allowed list"

  Scenario: The email must match exactly, case included
    Given the identity provider signs in "Alice@company.com" next
    When I sign in with "google"
    Then the page says "Access denied"

  Scenario: The listed user is allowed
    Given the identity provider signs in "alice@company.com" next
    When I sign in with "google"
    Then I receive an agent token
