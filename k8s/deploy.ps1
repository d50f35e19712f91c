# Deploys the Count Management System in seed 004's order (PowerShell twin of deploy.sh;
# see there for the steps and the Secret templates).
#   ./k8s/deploy.ps1 [-Overlay dev|prod|DIR] [-WithIngress] [-WithGateway] [-Infrastructure]
param(
  [string]$Overlay = "",
  [switch]$WithIngress,
  [switch]$WithGateway,
  [switch]$Infrastructure
)
$ErrorActionPreference = "Stop"
$ScriptDir = Split-Path -Parent $MyInvocation.MyCommand.Path
$RootDir = Split-Path -Parent $ScriptDir
$Ns = "count-system"
$Timeout = if ($env:TIMEOUT) { $env:TIMEOUT } else { "300s" }
if ($Overlay -eq "") { $Overlay = $ScriptDir }
elseif ($Overlay -in @("dev", "prod")) { $Overlay = Join-Path $RootDir "overlays/$Overlay" }

function Invoke-Kubectl { & kubectl @args; if ($LASTEXITCODE -ne 0) { throw "kubectl $args failed" } }

# Render once; drop the route kinds that were not asked for.
$drop = @()
if (-not $WithIngress) { $drop += "Ingress" }
if (-not $WithGateway) { $drop += "Gateway", "HTTPRoute" }
$docs = ((& kubectl kustomize $Overlay) -join "`n") -split "`n---`n" | Where-Object {
  $kind = if ($_ -match "(?m)^kind: (\w+)") { $Matches[1] } else { "" }
  $drop -notcontains $kind
}
$rendered = New-TemporaryFile
Set-Content -Path $rendered -Value ($docs -join "`n---`n")

function Apply([string]$components) {
  Invoke-Kubectl apply -f $rendered -l "app.kubernetes.io/component in ($components)"
}
# Applies and waits for the Deployments and StatefulSets applied (names from the apply,
# not from the cluster, where nothing exists yet on a first deploy).
function Apply-And-Wait([string]$components) {
  $applied = & kubectl apply -f $rendered -l "app.kubernetes.io/component in ($components)" -o name
  if ($LASTEXITCODE -ne 0) { throw "kubectl apply ($components) failed" }
  $applied | Write-Host
  foreach ($r in ($applied | Where-Object { $_ -match "^(deployment|statefulset)\.apps/" })) {
    Invoke-Kubectl -n $Ns rollout status $r --timeout=$Timeout
  }
}
function Ensure-Secret([string]$name, [string]$template, [hashtable]$values) {
  & kubectl -n $Ns get secret $name 2>$null | Out-Null
  if ($LASTEXITCODE -eq 0) { Write-Host "secret/$name exists: kept"; return }
  $text = Get-Content -Raw (Join-Path $ScriptDir "secret/$template")
  foreach ($k in $values.Keys) { $text = $text.Replace('${' + $k + '}', $values[$k]) }
  $text | & kubectl apply -f -
  if ($LASTEXITCODE -ne 0) { throw "creating secret $name failed" }
}
function New-RandomHex([int]$bytes) {
  $b = New-Object byte[] $bytes
  [System.Security.Cryptography.RandomNumberGenerator]::Create().GetBytes($b)
  -join ($b | ForEach-Object { $_.ToString("x2") })
}

try {
  Write-Host "=== Count Management System: deploying $Overlay ==="
  Write-Host "--- 1. namespace"; Apply "namespace"
  Write-Host "--- 2. ConfigMaps and Secrets"; Apply "config"
  $pgUser = if ($env:POSTGRES_USER) { $env:POSTGRES_USER } else { "countuser" }
  $pgPassword = if ($env:POSTGRES_PASSWORD) { $env:POSTGRES_PASSWORD } else { New-RandomHex 24 }
  $apiKeys = $env:COUNT_API_KEYS
  & kubectl -n $Ns get secret count-api-keys 2>$null | Out-Null
  if (-not $apiKeys -and $LASTEXITCODE -ne 0) {
    $adminKey = "cms_" + (New-RandomHex 24)
    $sha = [System.Security.Cryptography.SHA256]::Create().ComputeHash([Text.Encoding]::UTF8.GetBytes($adminKey))
    $hash = -join ($sha | ForEach-Object { $_.ToString("x2") })
    $apiKeys = "[{`"name`":`"admin`",`"scopes`":[`"admin`"],`"sha256`":`"$hash`"}]"
    Write-Host "generated admin API key (shown once, only its hash is stored): $adminKey"
  }
  Ensure-Secret "postgresql-secret" "postgresql-secret.yaml" @{ POSTGRES_USER = $pgUser; POSTGRES_PASSWORD = $pgPassword }
  Ensure-Secret "count-api-keys" "count-api-keys.yaml" @{ COUNT_API_KEYS = "$apiKeys" }
  # Signs dashboard-update-service's stream tokens: one value for all replicas, kept across deploys.
  $streamSecret = if ($env:STREAM_TOKEN_SECRET) { $env:STREAM_TOKEN_SECRET } else { New-RandomHex 32 }
  if ($streamSecret.Length -lt 32) { throw "STREAM_TOKEN_SECRET needs at least 32 characters" }
  Ensure-Secret "dashboard-stream-token" "dashboard-stream-token.yaml" @{ STREAM_TOKEN_SECRET = $streamSecret }
  Write-Host "--- 3. PersistentVolumeClaims"; Apply "storage"
  Write-Host "--- 4. infrastructure: PostgreSQL, Redis, ZooKeeper, Kafka"
  Apply-And-Wait "database,cache,messaging"
  Write-Host "--- 5. init Jobs: databases, schemas (countinfo, dashboardconfig), topic"
  Invoke-Kubectl -n $Ns delete job -l app.kubernetes.io/component=init --ignore-not-found
  Apply "init"
  Invoke-Kubectl -n $Ns wait --for=condition=complete job -l app.kubernetes.io/component=init --timeout=$Timeout
  if ($Infrastructure) {
    Write-Host "=== infrastructure deployed (the services: helm upgrade --install, docs/DEPLOY.md) ==="
    Invoke-Kubectl -n $Ns get pods
    return
  }
  Write-Host "--- 6. services"; Apply-And-Wait "api"
  # components/monitoring (needs the Prometheus Operator's CRDs), when the overlay has it.
  if (Select-String -Path $rendered -Pattern "app.kubernetes.io/component: monitoring" -Quiet) {
    Write-Host "--- 6b. monitoring"; Apply "monitoring"
  }
  if ($WithIngress -or $WithGateway) { Write-Host "--- 7. public routes"; Apply "ingress,gateway" }
  Write-Host "=== deployed ==="
  Invoke-Kubectl -n $Ns get pods
} finally {
  Remove-Item $rendered -ErrorAction SilentlyContinue
}
