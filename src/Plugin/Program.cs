using Gentoo.Connection;
using Gentoo.Entities.V1Alpha1;
using Gentoo.Plugin;

ClientJson.Lock(EntityJson.Default);
return await PluginCommand.Create(Console.Out, Console.Error).Parse(args).InvokeAsync();
