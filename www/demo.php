<?php
/*
 * wharf demo page: shows what a PHP script sees when wharf hands it a request over FastCGI.
 * Deliberately no phpinfo(): only the values listed below are printed, and every one of them
 * goes through h() (htmlspecialchars) first.
 */
declare(strict_types=1);

function h(string $s): string
{
    return htmlspecialchars($s, ENT_QUOTES | ENT_SUBSTITUTE | ENT_HTML5, 'UTF-8');
}

/** A $_SERVER entry as a string, or null when it is missing or empty. */
function server_var(string $key): ?string
{
    $v = $_SERVER[$key] ?? null;
    return (is_string($v) && $v !== '') ? $v : null;
}

header('Content-Type: text/html; charset=utf-8');
header('Cache-Control: no-store');

// Base path of this script, so the stylesheet still loads for demo.php/extra/path.
$script = server_var('SCRIPT_NAME') ?? '/demo.php';
$base = rtrim(str_replace('\\', '/', dirname($script)), '/');

$facts = [
    'PHP version'     => PHP_VERSION,
    'SAPI'            => php_sapi_name(),
    'Server software' => server_var('SERVER_SOFTWARE') ?? '(not set)',
    'Request method'  => server_var('REQUEST_METHOD') ?? '(not set)',
    'REQUEST_URI'     => server_var('REQUEST_URI') ?? '(not set)',
    'SCRIPT_NAME'     => server_var('SCRIPT_NAME') ?? '(not set)',
];
$pathInfo = server_var('PATH_INFO');
if ($pathInfo !== null) {
    $facts['PATH_INFO'] = $pathInfo;
}
$facts['Current time'] = date('Y-m-d H:i:s T') . ' (' . date_default_timezone_get() . ')';

// ?name=... ; anything that is not a plain string (e.g. name[]=x) is ignored.
$name = $_GET['name'] ?? '';
$name = is_string($name) ? trim($name) : '';
if (function_exists('mb_substr')) {
    $name = mb_substr($name, 0, 100, 'UTF-8');
} else {
    $name = substr($name, 0, 100);
}
?><!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>PHP works &mdash; wharf demo</title>
<link rel="stylesheet" href="<?= h($base . '/style.css') ?>">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>

<header class="banner">
  <div class="wrap">
    <p class="logo" aria-hidden="true">&#9875;</p>
    <h1>PHP works! <span class="sub">This page was run by PHP behind wharf.</span></h1>
  </div>
</header>

<main id="main" class="wrap">

  <section aria-labelledby="seen">
    <h2 id="seen">What this script sees</h2>
    <dl class="facts">
<?php foreach ($facts as $label => $value): ?>
      <dt><?= h($label) ?></dt>
      <dd><?= h($value) ?></dd>
<?php endforeach; ?>
    </dl>
  </section>

  <section aria-labelledby="echo">
    <h2 id="echo">Say hello</h2>
    <p>This form sends a <code>GET</code> request with a <code>name</code> parameter;
      the script echoes it back, escaped.</p>
    <form method="get">
      <label for="name">Your name</label>
      <input type="text" id="name" name="name" maxlength="100" autocomplete="given-name"
             value="<?= h($name) ?>">
      <button type="submit">Send</button>
    </form>
<?php if ($name !== ''): ?>
    <p class="greeting" role="status">Hello, <strong><?= h($name) ?></strong>!</p>
<?php endif; ?>
  </section>

  <p><a href="<?= h($base . '/') ?>">&larr; Back to the welcome page</a></p>

</main>

<footer class="wrap">
  <p>This page is <code>demo.php</code> in wharf&rsquo;s bundled <code>www</code> directory.</p>
</footer>
</body>
</html>
