@guide-proxy-not-accessible
Feature: Proxy not accessible

  Scenario: A stopped proxy refuses connections
    Given the proxy is running
    When I request GET "/health"
    Then the response status is 200
    When the proxy is stopped
    Then connecting to the proxy is refused

  # SPEC: SIGTERM is a graceful stop, and a graceful stop is a success for the service manager.
  @cap-graceful-stop
  Scenario: SIGTERM stops the proxy with exit code 0
    Given the proxy is running
    When the proxy is stopped
    Then it exited with code 0

  @cap-strict-wording
  Scenario: SSO off on 0.0.0.0 refuses to start rather than serve everyone
    Given the proxy configuration file:
      """
      server:
        host: "0.0.0.0"
      """
    When I run the proxy with "--validate-only"
    Then the command fails with exit code 1
    And the output says "SSO is disabled, so the proxy would serve"
