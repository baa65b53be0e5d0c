<?php
// Bench burst: N foreground jobs in one runTasks, then M background jobs, through
// one Gearman server (gearmand or the DIPS gateway); waits until the server's
// `status` shows none of them left. Prints JSON.
// usage: php burst.php <port> <function> <foreground> <background> <ms per job>
[$self, $port, $fn, $fg, $bg, $ms] = $argv;
$payload = serialize(['ms' => (int)$ms]);

function queued($port, $fn) {
    $s = fsockopen('127.0.0.1', (int)$port);
    fwrite($s, "status\n");
    $total = 0;
    while (($line = fgets($s)) !== false && trim($line) !== '.') {
        $cols = explode("\t", trim($line));
        if ($cols[0] === $fn) $total = (int)$cols[1];
    }
    fclose($s);
    return $total;
}

$c = new GearmanClient();
$c->addServer('127.0.0.1', (int)$port);
$c->setTimeout(600000);
$start = hrtime(true);
$done = [];
$c->setCompleteCallback(function ($t) use (&$done, $start) { $done[] = (hrtime(true) - $start) / 1e6; });
$c->setExceptionCallback(function ($t) {});
for ($i = 0; $i < (int)$fg; $i++) $c->addTask($fn, $payload);
$c->runTasks();
$fgSeconds = (hrtime(true) - $start) / 1e9;

$start = hrtime(true);
$accepted = 0;
for ($i = 0; $i < (int)$bg; $i++) if ($c->doBackground($fn, $payload) && $c->returnCode() == GEARMAN_SUCCESS) $accepted++;
$submitSeconds = (hrtime(true) - $start) / 1e9;
while (($left = queued($port, $fn)) > 0 && (hrtime(true) - $start) / 1e9 < 600) usleep(20000);
echo json_encode([
    'foreground' => ['latencies' => $done, 'failed' => (int)$fg - count($done), 'seconds' => $fgSeconds],
    'background' => ['accepted' => $accepted, 'left' => $left, 'submitSeconds' => $submitSeconds, 'seconds' => (hrtime(true) - $start) / 1e9],
]);
