# Removes the Count Management System (PowerShell twin of undeploy.sh). Data survives
# unless -Purge is given.
#   ./k8s/undeploy.ps1 [-Purge]
param([switch]$Purge)
$ErrorActionPreference = "Stop"
$Ns = "count-system"
$kinds = "deployments,statefulsets,jobs,services,serviceaccounts,poddisruptionbudgets,networkpolicies,horizontalpodautoscalers,configmaps"

function Remove-Component([string]$title, [string]$what, [string]$components) {
  Write-Host "--- $title"
  & kubectl -n $Ns delete $what -l "app.kubernetes.io/part-of=count-system,app.kubernetes.io/component in ($components)" --ignore-not-found --wait=true
  if ($LASTEXITCODE -ne 0) { throw "kubectl delete $what failed" }
}

Write-Host "=== Count Management System: removing ==="
Remove-Component "public routes" "ingresses" "ingress"
if ((& kubectl api-resources --api-group=gateway.networking.k8s.io -o name) -match "httproutes") {
  Remove-Component "Gateway API route" "httproutes,gateways" "gateway"
}
Remove-Component "services" $kinds "api"
Remove-Component "init Jobs" $kinds "init"
Remove-Component "infrastructure" $kinds "database,cache,messaging"
Remove-Component "configuration" "configmaps" "config"
if ($Purge) {
  Write-Host "--- purge: the namespace with its volumes and Secrets"
  & kubectl delete namespace $Ns --ignore-not-found --wait=true
} else {
  Write-Host "kept: PVCs, Secrets and namespace $Ns (-Purge removes them)"
}
Write-Host "=== removed ==="
