@guide-idp-unreachable
Feature: Identity provider unreachable

  Scenario: "Failed to connect to identity provider", naming the host and HTTPS_PROXY
    Given the identity provider is unreachable
    And the proxy is running
    When I sign in with "google"
    Then the page says "Failed to connect to identity provider 127.0.0.1"
    And the page says "HTTPS_PROXY"

  Scenario: Through an HTTP proxy that is down, HTTPS_PROXY is honoured (and named)
    Given the environment variable HTTP_PROXY is "http://127.0.0.1:9"
    And the environment variable HTTPS_PROXY is "http://127.0.0.1:9"
    And the proxy is running
    When I sign in with "google"
    Then the page says "Failed to connect to identity provider"
    And the page says "HTTPS_PROXY"
    And the identity provider received no request
