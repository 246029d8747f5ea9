"""Write-audit-publish of the checked marts (SPEC 7)."""
