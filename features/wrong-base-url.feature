@guide-wrong-base-url
Feature: Wrong base URL
  Symptoms: "404 Not Found" errors, the agent cannot reach the proxy.

  Background:
    Given the proxy is running
    And the user "alice@company.com" holds a valid agent token

  Scenario: A base URL without /v1 gets a 404 that names the right one
    When the agent sends a chat request to "/chat/completions" with its token
    Then the response status is 404
    And the response says "/v1"

  Scenario: An extra slash is tolerated
    When the agent sends a chat request to "/v1//chat/completions/" with its token
    Then the response status is 200
    And the agent sees the model's answer

  @cap-strict-wording
  Scenario: The guide's check `curl http://localhost:8080/v1/models` answers
    When I request GET "/v1/models"
    Then the response status is 401
    And the response says "/auth/login"
