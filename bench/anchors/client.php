<?php
// Bench caller: N calls of one function through a Gearman server (gearmand or
// the DIPS gateway), printing each call's latency in ms as JSON.
// usage: php client.php <port> <function> <payload-file> <calls>
[$self, $port, $fn, $payloadFile, $calls] = $argv;
$payload = file_get_contents($payloadFile);
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$port);
$lat = [];
$failed = 0;
$start = hrtime(true);
for ($i = 0; $i < (int)$calls; $i++) {
    $t = hrtime(true);
    $result = $client->doNormal($fn, $payload);
    $lat[] = (hrtime(true) - $t) / 1e6;
    if ($client->returnCode() != GEARMAN_SUCCESS || $result === '') $failed++;
}
echo json_encode(['latencies' => $lat, 'failed' => $failed, 'seconds' => (hrtime(true) - $start) / 1e9]);
