<?php
// Bench caller: N calls of one function through a Gearman server (gearmand or
// the DIPS gateway), printing each call's latency in ms as JSON.
// usage: php client.php <port> <function> <payload-file> <calls> [<start-at, monotonic ns>]
// Every caller of a run waits for the same start-at, so their loops overlap
// completely and throughput is calls over one shared interval.
[$self, $port, $fn, $payloadFile, $calls] = $argv;
$startAt = (int)($argv[5] ?? 0);
$payload = file_get_contents($payloadFile);
$client = new GearmanClient();
$client->addServer('127.0.0.1', (int)$port);
$lat = [];
$failed = 0;
$wait = $startAt - hrtime(true);
if ($wait > 0) time_nanosleep(intdiv($wait, 1000000000), $wait % 1000000000);
$start = hrtime(true);
for ($i = 0; $i < (int)$calls; $i++) {
    $t = hrtime(true);
    $result = $client->doNormal($fn, $payload);
    $lat[] = (hrtime(true) - $t) / 1e6;
    if ($client->returnCode() != GEARMAN_SUCCESS || $result === '') $failed++;
}
$end = hrtime(true);
echo json_encode(['latencies' => $lat, 'failed' => $failed, 'start' => $start, 'end' => $end, 'seconds' => ($end - $start) / 1e9]);
