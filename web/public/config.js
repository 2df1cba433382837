// Runtime configuration of the CareFlow portal, loaded before the app (see index.html).
// Locally the runner serves the portal beside the API, so the API is on the same origin ("").
// In AWS, Terraform writes this file per environment with the API's URL.
window.CAREFLOW_CONFIG = { apiBaseUrl: "" };
