using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Baton.Lab;
using Baton.Tests.Modes.Relay;
using Baton.Tests.Support;

namespace Baton.Tests.Application;

/// <summary>
/// Unmodified nginx (Debian's nginx-light) behind <c>--forward</c>: a worker that takes passed
/// connections (local mode, real router and worker processes, no root) serves them from nginx, and
/// an ordinary HttpClient sees nginx's own answers on one connection that also visits the built-in
/// back-ends. The agent runs the same forwarder (ForwardTests in the cluster suite).
/// </summary>
public sealed class NginxForwardTests
{
    [Fact]
    public async Task Nginx_behind_the_worker_answers_files_empty_files_chunks_304_HEAD_and_uploads_on_one_client_connection()
    {
        var file = new byte[4 << 20];
        new Random(21).NextBytes(file);
        var nginx = new NginxOrigin(file, new Dictionary<string, byte[]> { ["empty.bin"] = [] });
        bool stopped = false;
        var lab = await LoopbackLab.StartAsync(LoopbackMode.Local).WaitAsync(TimeSpan.FromMinutes(2));
        try
        {
            lab.StartWorker("be3", "--forward", nginx.Url.ToString());
            await lab.WaitForWorkerAsync("be3");
            var ports = new List<int>();
            using var http = lab.CreateHttpClient(ports);
            async Task<(HttpResponseMessage Response, byte[] Body)> Send(HttpRequestMessage request)
            {
                var response = await http.SendAsync(request).WaitAsync(LoopbackPair.HangGuard);
                return (response, await response.Content.ReadAsByteArrayAsync());
            }
            static HttpRequestMessage Get(string path) => new(HttpMethod.Get, path);

            // The router strips nothing: nginx sees /be3/..., so each file sits under www/be3 too.
            Directory.CreateDirectory(Path.Combine(nginx.Directory, "www", "be3"));
            foreach (var name in new[] { "static.bin", "empty.bin", "hello.txt" })
                File.Copy(Path.Combine(nginx.Directory, "www", name), Path.Combine(nginx.Directory, "www", "be3", name));
            var dav = Directory.CreateDirectory(Path.Combine(nginx.Directory, "www", "be3", "dav")).FullName;
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(dav, (UnixFileMode)0x1FF); // nginx may write as another user

            var (r0, _) = await Send(Get("/be1/first"));
            Assert.Equal("be1", r0.Headers.GetValues("Baton-Host").Single());

            // 1. A 4 MiB static file, Content-Length framed, from nginx itself.
            var (big, bigBody) = await Send(Get("/be3/static.bin"));
            Assert.Equal(200, (int)big.StatusCode);
            Assert.StartsWith("nginx", big.Headers.Server.ToString());
            Assert.Equal(file, bigBody);

            // 2. A 0-byte file.
            var (empty, emptyBody) = await Send(Get("/be3/empty.bin"));
            Assert.Equal((200, 0L, 0), ((int)empty.StatusCode, empty.Content.Headers.ContentLength ?? -1, emptyBody.Length));

            // 3. gzip makes nginx answer chunked; the content arrives whole.
            var gz = Get("/be3/hello.txt");
            gz.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));
            var (chunked, chunkedBody) = await Send(gz);
            Assert.True(chunked.Headers.TransferEncodingChunked, "nginx's gzip response should be chunked");
            using (var unzip = new StreamReader(new GZipStream(new MemoryStream(chunkedBody), CompressionMode.Decompress)))
                Assert.Equal(File.ReadAllText(Path.Combine(nginx.Directory, "www", "hello.txt")), unzip.ReadToEnd());

            // 4. A conditional GET of an unchanged file: 304, no body, and the connection goes on.
            var conditional = Get("/be3/static.bin");
            conditional.Headers.IfModifiedSince = big.Content.Headers.LastModified;
            var (notModified, notModifiedBody) = await Send(conditional);
            Assert.Equal((304, 0), ((int)notModified.StatusCode, notModifiedBody.Length));

            // 5. HEAD: the length, no body.
            var (head, headBody) = await Send(new HttpRequestMessage(HttpMethod.Head, "/be3/static.bin"));
            Assert.Equal((200, (long)file.Length, 0), ((int)head.StatusCode, head.Content.Headers.ContentLength ?? -1, headBody.Length));

            // 6. A 5 MB upload, stored by nginx's DAV module, then read back.
            var upload = new byte[5_000_000];
            new Random(22).NextBytes(upload);
            var (put, _) = await Send(new HttpRequestMessage(HttpMethod.Put, "/be3/dav/up.bin") { Content = new ByteArrayContent(upload) });
            Assert.True((int)put.StatusCode is 201 or 204, $"PUT answered {(int)put.StatusCode}");
            Assert.Equal(upload, (await Send(Get("/be3/dav/up.bin"))).Body);

            var (r2, _) = await Send(Get("/be2/between"));
            Assert.Equal("be2", r2.Headers.GetValues("Baton-Host").Single());

            // 7. nginx stops: 502 from the worker, and the connection goes on.
            nginx.Dispose();
            stopped = true;
            var (down, _) = await Send(Get("/be3/static.bin"));
            Assert.Equal((502, "be3"), ((int)down.StatusCode, down.Headers.GetValues("Baton-Host").Single()));
            var (r3, _) = await Send(Get("/be1/last"));
            Assert.Equal("be1", r3.Headers.GetValues("Baton-Host").Single());

            Assert.Single(ports);
        }
        finally
        {
            await lab.DisposeAsync();
            if (!stopped) nginx.Dispose();
        }
    }
}
