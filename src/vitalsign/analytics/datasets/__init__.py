"""Public benchmark datasets mapped into workspaces: saas_churn and RavenStack."""
