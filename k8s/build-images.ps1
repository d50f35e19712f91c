# Builds every service image with the repository root as build context (PowerShell twin
# of build-images.sh).
#   $env:REGISTRY = "registry.example/count/"; $env:VERSION = "0.2.0"; ./k8s/build-images.ps1
param([string[]]$Services = @("count-write-service", "count-read-service",
  "count-management-service", "count-analysis-service", "dashboard-provision-service",
  "dashboard-update-service", "count-system"))
$ErrorActionPreference = "Stop"
$ScriptDir = Split-Path -Parent $MyInvocation.MyCommand.Path
$RootDir = Split-Path -Parent $ScriptDir
$Registry = if ($env:REGISTRY) { $env:REGISTRY } else { "" }
$Version = $env:VERSION
if (-not $Version) {
  $Version = (Select-String -Path (Join-Path $RootDir "CMakeLists.txt") -Pattern "project\(count_system VERSION ([0-9.]+)").Matches[0].Groups[1].Value
}
$Engine = if ($env:ENGINE) { $env:ENGINE } elseif (Get-Command docker -ErrorAction SilentlyContinue) { "docker" } else { "podman" }
$Format = if ($Engine -eq "podman") { @("--format", "docker") } else { @() }

foreach ($service in $Services) {
  $image = "$Registry$($service):$Version"
  Write-Host "Building $image..."
  & $Engine build @Format -f (Join-Path $RootDir "$service/Dockerfile") -t $image $RootDir
  if ($LASTEXITCODE -ne 0) { throw "building $image failed" }
}
Write-Host "Built $($Services.Count) image(s), tag $Version."
