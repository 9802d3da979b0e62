@guide-proxy-not-accessible
Feature: Proxy not accessible

  Scenario: A stopped proxy refuses connections
    Given the proxy is running
    When I request GET "/health"
    Then the response status is 200
    When the proxy is stopped
    Then connecting to the proxy is refused

  Scenario: SSO off on 0.0.0.0 refuses to start rather than serve everyone
    Given the proxy configuration file:
      """
      server:
        host: "0.0.0.0"
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "SSO is disabled, so the proxy would serve"
