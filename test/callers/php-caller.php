<?php
// A PHP web server's DIPS calls: the seed's client code in a loop until a stop
// file appears, then one JSON line: {"ok":…, "failed":…, "slowestMs":…, "errors":[…]}.
// usage: php php-caller.php <host> <port> <function> <payload-file> <stop-file> <timeout-ms>
[$self, $host, $port, $fn, $payloadFile, $stopFile, $timeoutMs] = $argv;
$payload = file_get_contents($payloadFile);
$client = new GearmanClient();
$client->addServer($host, (int)$port);
$client->setTimeout((int)$timeoutMs);
$ok = 0; $failed = 0; $slowest = 0.0; $errors = [];
while (!file_exists($stopFile)) {
    $t = hrtime(true);
    $r = @$client->doNormal($fn, $payload);
    $ms = (hrtime(true) - $t) / 1e6;
    $slowest = max($slowest, $ms);
    if ($client->returnCode() == GEARMAN_SUCCESS && strlen($r) > 0) $ok++;
    else { $failed++; if (count($errors) < 5) $errors[] = sprintf('at %d: %.0f ms: %d %s', (int)(microtime(true) * 1000) % 100000 - (int)$ms, $ms, $client->returnCode(), $client->error()); }
}
echo json_encode(['ok' => $ok, 'failed' => $failed, 'slowestMs' => round($slowest, 1), 'errors' => $errors]), "\n";
