<?php
// The anchors' PHP worker behind gearmand: echo, the seed's ecard drawn with
// GD, and a thumbnail with Imagick — the same jobs DIPS workers do.
// usage: php worker.php <port> <font-file>
[$self, $port, $fontFile] = $argv;
require __DIR__ . '/ecard-gd.php';

function ecard_gd(GearmanJob $job) {
    global $fontFile;
    $data = unserialize($job->workload());
    try {
        return ecard_png($data, $fontFile);
    } catch (InvalidArgumentException $e) {
        $job->sendException($e->getMessage());
        return GEARMAN_WORK_EXCEPTION;
    }
}

// Image jobs with Imagick: the same parameters the DIPS functions take.
function imagick_job(GearmanJob $job) {
    $data = unserialize($job->workload());
    $im = new Imagick();
    $im->readImageBlob($data['image']);
    $im->autoOrient();
    switch ($job->functionName()) {
        case 'thumbnail':
            $im->thumbnailImage((int)$data['width'], 0);
            break;
        case 'resize':
            $im->cropThumbnailImage((int)$data['width'], (int)$data['height']);
            break;
        case 'crop':
            $im->cropImage((int)$data['width'], (int)$data['height'], (int)$data['left'], (int)$data['top']);
            $im->setImagePage(0, 0, 0, 0);
            break;
        case 'rotate':
            $im->rotateImage(new ImagickPixel('black'), (float)$data['angle']);
            break;
        case 'blur':
            $im->gaussianBlurImage(0, (float)$data['sigma']);
            break;
        case 'grayscale':
            $im->transformImageColorspace(Imagick::COLORSPACE_GRAY);
            break;
        case 'watermark':
            $draw = new ImagickDraw();
            $draw->setFont($GLOBALS['fontFile']);
            $draw->setFontSize((int)$data['size']);
            $draw->setFillColor(new ImagickPixel('rgba(255,255,255,0.5)'));
            $draw->setGravity(Imagick::GRAVITY_SOUTHEAST);
            $im->annotateImage($draw, 16, 16, 0, $data['text']);
            break;
        case 'convert':
            break;
    }
    $im->stripImage();
    $im->setImageFormat($data['format'] ?? 'jpeg');
    $im->setImageCompressionQuality(80);
    return $im->getImageBlob();
}

$worker = new GearmanWorker();
$worker->addServer('127.0.0.1', (int)$port);
$worker->addFunction('echo', function (GearmanJob $job) { return $job->workload(); });
$worker->addFunction('ecard', 'ecard_gd');
// the burst scenario's job: sleep as long as asked (DIPS's delay function does the same)
$worker->addFunction('delay', function (GearmanJob $job) { usleep((int)unserialize($job->workload())['ms'] * 1000); return 'done'; });
if (extension_loaded('imagick')) {
    foreach (['thumbnail', 'resize', 'crop', 'rotate', 'blur', 'grayscale', 'watermark', 'convert'] as $fn) $worker->addFunction($fn, 'imagick_job');
}
while ($worker->work());
