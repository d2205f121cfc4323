#!/usr/bin/env bash
# Packs NatMap.Iptables, NatMap.Iptables.Testing, NatMap.Iptables.Hosting and the natmap tool with a fresh version into a
# local feed, then builds and runs a consumer outside the repository that adds them by that version and uses only their
# public surface.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version="0.1.0-smoke.$(date +%s)"

for project in NatMap.Iptables NatMap.Iptables.Testing NatMap.Iptables.Hosting NatMap.Cli; do
  dotnet pack "$root/src/$project" -c Release -o "$work/feed" -p:Version="$version" --nologo -v quiet
done
ls "$work/feed"

mkdir "$work/consumer"
cp "$root/tests/PackageSmoke/Consumer/Program.cs" "$work/consumer/"
cp "$root/tests/PackageSmoke/Consumer/Consumer.csproj.template" "$work/consumer/Consumer.csproj"
cat > "$work/consumer/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$work/feed" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
</configuration>
XML
cd "$work/consumer"
dotnet add package NatMap.Iptables --version "$version" >/dev/null
dotnet add package NatMap.Iptables.Testing --version "$version" >/dev/null
dotnet add package NatMap.Iptables.Hosting --version "$version" >/dev/null
dotnet run -c Release -f net10.0
# net8.0 on the real .NET 8: self-contained from the 8.0 runtime pack, so it runs where only a newer runtime is
# installed, and nothing rolls it forward (the consumer checks that it runs on 8.x).
rid=$(dotnet --info | sed -n 's/^ *RID: *//p' | head -n 1)
dotnet build -c Release -f net8.0 -r "$rid" --self-contained --nologo -v quiet
"bin/Release/net8.0/$rid/Consumer"

# The natmap tool, installed as a user would (dotnet tool install) from the local feed, answers --help.
dotnet tool install NatMap.Cli --version "$version" --tool-path "$work/tools" --add-source "$work/feed" >/dev/null
"$work/tools/natmap" --help | grep -q "natmap: publish ports"
"$work/tools/natmap" audit --help | grep -q -- "--json"
echo "natmap tool: installed from the local feed and ran"
