; Windows installer of socialfee (单位社保费管理客户端): install, repair, uninstall.
;
;   makensis /DPAYLOAD=dist\socialfee /DENTRY=dist\socialfee-entry /DVERSION=0.1.0 installer\socialfee.nsi
;
; PAYLOAD is the PyInstaller onedir folder, ENTRY the stable entry's folder (installer/build.py).
; WEBVIEW2_BOOTSTRAPPER, if given, is Microsoft's WebView2 bootstrapper, shipped inside and run
; when the runtime is missing. The install folder (default %LOCALAPPDATA%\Programs\socialfee)
; holds the entry (socialfee.exe, socialfee-cli.exe, _internal\), the program under
; versions\<version>\ and current.json naming the version the entry starts: the layout the
; in-app upgrade adds versions to (client/core/upgrade_install.py). The operator's data stays
; in %LOCALAPPDATA%\socialfee (platformdirs), never in the program folder, so repair and
; uninstall touch program files only. Pages and the reasons behind them: installer/README.md.

Unicode true
ManifestDPIAware true

!include MUI2.nsh
!include LogicLib.nsh
!include nsDialogs.nsh
!include FileFunc.nsh
!include WordFunc.nsh

!ifndef PAYLOAD
  !error "PAYLOAD 未指定：makensis /DPAYLOAD=<PyInstaller 输出的 socialfee 文件夹> ..."
!endif
!ifndef ENTRY
  !error "ENTRY 未指定：makensis /DENTRY=<PyInstaller 输出的 socialfee-entry 文件夹> ..."
!endif
!ifndef VERSION
  !define VERSION "0.1.0"
!endif
!ifndef OUTFILE
  !define OUTFILE "socialfee-${VERSION}-setup.exe"
!endif

!define APP_NAME "单位社保费管理客户端"
!define EXE "socialfee.exe"
!define UNINSTALLER "uninstall.exe"
!define POINTER "current.json"  ; client/core/upgrade_install.py POINTER
!define UNINST_KEY "Software\Microsoft\Windows\CurrentVersion\Uninstall\socialfee"
!define DATA_DIR "$LOCALAPPDATA\socialfee"
!define SM_FOLDER "$SMPROGRAMS\${APP_NAME}"
; The Evergreen WebView2 runtime's client GUID (EdgeUpdate\Clients\{...}, value "pv").
!define WEBVIEW2_GUID "{F3017226-FE2A-4295-8BDF-00C3A9A7E4C5}"
!define WEBVIEW2_URL "https://go.microsoft.com/fwlink/p/?LinkId=2124703"

Name "${APP_NAME}"
Caption "${APP_NAME} ${VERSION} 安装程序"
OutFile "${OUTFILE}"
; Per user: the program and its data belong to the operator's account, no administrator
; prompt, and "delete data" on uninstall reaches the right %LOCALAPPDATA%.
RequestExecutionLevel user
InstallDir "$LOCALAPPDATA\Programs\socialfee"
ShowInstDetails show
ShowUninstDetails show
BrandingText "socialfee ${VERSION}"
!ifdef NO_COMPRESSION
  SetCompress off  ; CI's compile check: the script and the payload, not the packing
!else
  SetCompressor /SOLID lzma
!endif

VIProductVersion "${VERSION}.0"
VIAddVersionKey /LANG=2052 "ProductName" "${APP_NAME}"
VIAddVersionKey /LANG=2052 "ProductVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "FileVersion" "${VERSION}"
VIAddVersionKey /LANG=2052 "FileDescription" "${APP_NAME} 安装程序"
VIAddVersionKey /LANG=2052 "LegalCopyright" "Apache-2.0"

Var Mode            ; install | repair
Var CustomDir       ; 1: 自定义安装 (the folder page is shown)
Var WantDesktop
Var WantStartMenu
Var OldVersion      ; the installed version, from the uninstall key ("" if none)
Var OldDir
Var OldUninstaller
Var OldRoot         ; HKCU or HKLM: where the installed version registered itself
Var DeleteData      ; uninstaller: 1 after the operator ticked and confirmed 同时删除数据
Var HomeOverride    ; SOCIALFEE_HOME, when the operator moved the data elsewhere
Var Radio1
Var Radio2
Var Check1
Var Check2

!define MUI_ABORTWARNING
!define MUI_ABORTWARNING_TEXT "确定要退出 ${APP_NAME} 安装程序吗？"
!define MUI_UNABORTWARNING

; -- installer pages -------------------------------------------------------------------------
Page custom MaintenancePage MaintenanceLeave
Page custom ModePage ModeLeave
!define MUI_PAGE_CUSTOMFUNCTION_PRE DirectoryPre
!define MUI_PAGE_CUSTOMFUNCTION_LEAVE DirectoryLeave
!insertmacro MUI_PAGE_DIRECTORY
!insertmacro MUI_PAGE_INSTFILES
!define MUI_FINISHPAGE_RUN "$INSTDIR\${EXE}"
!define MUI_FINISHPAGE_RUN_TEXT "立即启动 ${APP_NAME}"
!insertmacro MUI_PAGE_FINISH

; -- uninstaller pages -----------------------------------------------------------------------
UninstPage custom un.DataPage un.DataLeave
!insertmacro MUI_UNPAGE_INSTFILES
!insertmacro MUI_UNPAGE_FINISH

!insertmacro MUI_LANGUAGE "SimpChinese"

; -- shared ----------------------------------------------------------------------------------
; Waits until no socialfee.exe runs: program files in use cannot be replaced or removed.
!macro WAIT_NOT_RUNNING un
Function ${un}WaitNotRunning
  StrCpy $2 0
  retry:
    nsExec::ExecToStack '"$SYSDIR\cmd.exe" /c tasklist /FI "IMAGENAME eq ${EXE}" /NH | find /I "${EXE}"'
    Pop $0
    Pop $1
    ${If} $0 == 0
      ${If} ${Silent}
        ; A newer installer removing this version: give a closing client a minute.
        IntOp $2 $2 + 1
        ${If} $2 > 30
          Abort "${APP_NAME} 仍在运行。"
        ${EndIf}
        Sleep 2000
        Goto retry
      ${EndIf}
      MessageBox MB_RETRYCANCEL|MB_ICONEXCLAMATION "${APP_NAME} 正在运行。$\r$\n请先关闭客户端窗口（未保存的内容请先保存），然后点击【重试】。" IDRETRY retry
      Abort "已取消：${APP_NAME} 仍在运行。"
    ${EndIf}
FunctionEnd
!macroend
!insertmacro WAIT_NOT_RUNNING ""
!insertmacro WAIT_NOT_RUNNING "un."

; -- installer -------------------------------------------------------------------------------
Function ReadInstalled
  ; Per-user key first; a per-machine key of an older installer counts as well.
  StrCpy $OldRoot "HKCU"
  ReadRegStr $OldVersion HKCU "${UNINST_KEY}" "DisplayVersion"
  ReadRegStr $OldDir HKCU "${UNINST_KEY}" "InstallLocation"
  ReadRegStr $OldUninstaller HKCU "${UNINST_KEY}" "UninstallString"
  ${If} $OldVersion == ""
    StrCpy $OldRoot "HKLM"
    ReadRegStr $OldVersion HKLM "${UNINST_KEY}" "DisplayVersion"
    ReadRegStr $OldDir HKLM "${UNINST_KEY}" "InstallLocation"
    ReadRegStr $OldUninstaller HKLM "${UNINST_KEY}" "UninstallString"
  ${EndIf}
  ; UninstallString is quoted; the file itself is what is run below.
  ${If} $OldDir != ""
    StrCpy $OldUninstaller "$OldDir\${UNINSTALLER}"
    ; After an in-app upgrade the version running is current.json's, not the key's.
    Push "$OldDir\${POINTER}"
    Call ReadPointerVersion
    Pop $0
    ${If} $0 != ""
      StrCpy $OldVersion $0
    ${EndIf}
  ${EndIf}
FunctionEnd

; The "version" of a current.json (one line of JSON, as the client and this installer write
; it), or "" when the file is missing or has none. In: the file on the stack; out: the version.
Function ReadPointerVersion
  Exch $0
  Push $1
  Push $2
  ClearErrors
  FileOpen $1 $0 r
  ${If} ${Errors}
    StrCpy $0 ""
  ${Else}
    FileRead $1 $2
    FileClose $1
    ${WordFind} $2 '"version": "' "E+1}" $0
    ${If} ${Errors}
      StrCpy $0 ""
    ${Else}
      ${WordFind} $0 '"' "E+1{" $0
      ${If} ${Errors}
        StrCpy $0 ""
      ${EndIf}
    ${EndIf}
  ${EndIf}
  Pop $2
  Pop $1
  Exch $0
FunctionEnd

Function .onInit
  ; One installer at a time.
  System::Call 'kernel32::CreateMutex(p 0, i 0, t "socialfee-setup") p .r0 ?e'
  Pop $1
  ${If} $1 == 183
    MessageBox MB_ICONEXCLAMATION "${APP_NAME} 安装程序已在运行。" /SD IDOK
    Abort
  ${EndIf}
  StrCpy $Mode "install"
  StrCpy $CustomDir 0
  StrCpy $WantDesktop 1
  StrCpy $WantStartMenu 1
  Call ReadInstalled
  ${If} $OldVersion == ""
    Return
  ${EndIf}
  ${If} $OldDir != ""
    StrCpy $INSTDIR $OldDir  ; the new version goes where the old one was
  ${EndIf}
  ${VersionCompare} "$OldVersion" "${VERSION}" $0
  ${If} $0 == 0
    ; The same version: the manual's two choices, 修复 and 卸载 (silent: repair).
    StrCpy $Mode "repair"
    ReadRegDWORD $WantDesktop HKCU "${UNINST_KEY}" "DesktopShortcut"
    ReadRegDWORD $WantStartMenu HKCU "${UNINST_KEY}" "StartMenuShortcut"
  ${ElseIf} $0 == 1
    MessageBox MB_ICONEXCLAMATION "这台电脑上已安装更新的版本 $OldVersion，无需安装 ${VERSION}。$\r$\n如确需换回旧版本，请先在控制面板中卸载 $OldVersion（数据会保留）。" /SD IDOK
    Abort
  ${Else}
    ; An older version: it is removed first (data kept), never left beside this one.
    ${IfNot} ${Silent}
      ${If} ${Cmd} `MessageBox MB_OKCANCEL|MB_ICONINFORMATION "这台电脑上已安装旧版本 $OldVersion。$\r$\n安装 ${VERSION} 前将先卸载旧版本（只删除程序文件，数据保留），以免两个版本同时存在。" IDCANCEL`
        Abort
      ${EndIf}
    ${EndIf}
  ${EndIf}
FunctionEnd

Function MaintenancePage
  ${If} $Mode != "repair"
    Abort  ; only when this version is installed already
  ${EndIf}
  !insertmacro MUI_HEADER_TEXT "修复或卸载" "这台电脑上已安装 ${APP_NAME} ${VERSION}（$INSTDIR）"
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateLabel} 0 0 100% 24u "客户端出现异常（例如程序文件被杀毒软件误删、无法启动）时可选择修复：程序文件恢复到安装时的状态，数据不会被覆盖。"
  Pop $0
  ${NSD_CreateRadioButton} 0 34u 100% 12u "修复"
  Pop $Radio1
  ${NSD_CreateRadioButton} 0 52u 100% 12u "卸载"
  Pop $Radio2
  ${NSD_Check} $Radio1
  ${NSD_OnClick} $Radio1 MaintenanceButton
  ${NSD_OnClick} $Radio2 MaintenanceButton
  Push $Radio1
  Call MaintenanceButton
  nsDialogs::Show
FunctionEnd

Function MaintenanceButton
  Pop $0  ; the clicked control
  GetDlgItem $1 $HWNDPARENT 1
  ${NSD_GetState} $Radio2 $0
  ${If} $0 == ${BST_CHECKED}
    SendMessage $1 ${WM_SETTEXT} 0 "STR:快速卸载"
  ${Else}
    SendMessage $1 ${WM_SETTEXT} 0 "STR:快速修复"
  ${EndIf}
FunctionEnd

Function MaintenanceLeave
  ${NSD_GetState} $Radio2 $0
  ${If} $0 == ${BST_CHECKED}
    ${IfNot} ${FileExists} "$OldUninstaller"
      ; Damaged beyond its uninstaller: repair brings it back, then uninstall works.
      MessageBox MB_ICONEXCLAMATION "找不到卸载程序 $OldUninstaller（可能已被误删）。$\r$\n请先选择【修复】，修复完成后再卸载。"
      Abort
    ${EndIf}
    ; The installed uninstaller, with its pages (同时删除数据), run in place and waited for.
    HideWindow
    ClearErrors
    ExecWait '"$OldUninstaller" _?=$OldDir' $0
    ${If} ${Errors}
      BringToFront
      MessageBox MB_ICONSTOP "无法启动卸载程序 $OldUninstaller。"
    ${ElseIf} $0 == 0
      Delete "$OldUninstaller"
      RMDir "$OldDir"
    ${EndIf}
    Quit
  ${EndIf}
FunctionEnd

Function ModePage
  ${If} $Mode == "repair"
    Abort
  ${EndIf}
  !insertmacro MUI_HEADER_TEXT "安装 ${APP_NAME} ${VERSION}" "选择安装方式"
  nsDialogs::Create 1018
  Pop $0
  ${NSD_CreateRadioButton} 0 0 100% 12u "立即安装：安装到默认位置 $INSTDIR"
  Pop $Radio1
  ${NSD_CreateRadioButton} 0 16u 100% 12u "自定义安装：选择其他安装位置"
  Pop $Radio2
  ${If} $CustomDir == 1
    ${NSD_Check} $Radio2
  ${Else}
    ${NSD_Check} $Radio1
  ${EndIf}
  ${NSD_OnClick} $Radio1 ModeButton
  ${NSD_OnClick} $Radio2 ModeButton
  ${NSD_CreateCheckbox} 0 44u 100% 12u "在桌面创建快捷方式"
  Pop $Check1
  ${NSD_CreateCheckbox} 0 60u 100% 12u "在开始菜单创建程序组（含启动和卸载）"
  Pop $Check2
  ${If} $WantDesktop == 1
    ${NSD_Check} $Check1
  ${EndIf}
  ${If} $WantStartMenu == 1
    ${NSD_Check} $Check2
  ${EndIf}
  ${NSD_CreateLabel} 0 84u 100% 36u "数据（数据库、设置、日志和默认备份）保存在 ${DATA_DIR}，不在安装位置中；修复和卸载都不会删除数据。"
  Pop $0
  Push $Radio1
  Call ModeButton
  nsDialogs::Show
FunctionEnd

Function ModeButton
  Pop $0
  GetDlgItem $1 $HWNDPARENT 1
  ${NSD_GetState} $Radio2 $0
  ${If} $0 == ${BST_CHECKED}
    SendMessage $1 ${WM_SETTEXT} 0 "STR:下一步(&N) >"
  ${Else}
    SendMessage $1 ${WM_SETTEXT} 0 "STR:立即安装(&I)"
  ${EndIf}
FunctionEnd

Function ModeLeave
  ${NSD_GetState} $Radio2 $0
  ${If} $0 == ${BST_CHECKED}
    StrCpy $CustomDir 1
  ${Else}
    StrCpy $CustomDir 0
  ${EndIf}
  ${NSD_GetState} $Check1 $0
  ${If} $0 == ${BST_CHECKED}
    StrCpy $WantDesktop 1
  ${Else}
    StrCpy $WantDesktop 0
  ${EndIf}
  ${NSD_GetState} $Check2 $0
  ${If} $0 == ${BST_CHECKED}
    StrCpy $WantStartMenu 1
  ${Else}
    StrCpy $WantStartMenu 0
  ${EndIf}
FunctionEnd

Function DirectoryPre
  ${If} $Mode == "repair"
  ${OrIf} $CustomDir != 1
    Abort  ; 立即安装 and 修复 use the default or the installed folder
  ${EndIf}
FunctionEnd

Function DirectoryLeave
  ; Never inside the data folder: uninstall removes the program folder's files.
  StrLen $0 "${DATA_DIR}"
  StrCpy $1 "$INSTDIR" $0
  ${If} $1 == "${DATA_DIR}"
    MessageBox MB_ICONEXCLAMATION "不能安装到数据目录 ${DATA_DIR} 中，请选择其他文件夹。"
    Abort
  ${EndIf}
  ; Only an empty folder, a new one, or one holding this program: uninstall removes what
  ; it installed, and nothing may be mixed in with another program's files.
  ${If} ${FileExists} "$INSTDIR\*.*"
  ${AndIfNot} ${FileExists} "$INSTDIR\${EXE}"
    FindFirst $0 $1 "$INSTDIR\*.*"
    ${Do}
      ${If} $1 == "."
      ${OrIf} $1 == ".."
        FindNext $0 $1
      ${Else}
        ${ExitDo}
      ${EndIf}
    ${Loop}
    FindClose $0
    ${If} $1 != ""
      MessageBox MB_ICONEXCLAMATION "所选文件夹 $INSTDIR 中已有其他文件。$\r$\n请选择空文件夹，或在路径末尾加上新文件夹名（例如 \socialfee）。"
      Abort
    ${EndIf}
  ${EndIf}
FunctionEnd

Function RemoveOld
  ${If} $OldVersion == ""
  ${OrIf} $Mode == "repair"
    Return
  ${EndIf}
  ${IfNot} ${FileExists} "$OldUninstaller"
    DetailPrint "旧版本 $OldVersion 的卸载程序已不存在，直接覆盖安装。"
    ${If} $OldRoot == "HKLM"
      DeleteRegKey HKLM "${UNINST_KEY}"  ; fails quietly without administrator rights
    ${Else}
      DeleteRegKey HKCU "${UNINST_KEY}"
    ${EndIf}
    Return
  ${EndIf}
  DetailPrint "正在卸载旧版本 $OldVersion（数据保留）…"
  ; /S: silent, so its data choice stays "keep"; _?= runs it in place, so ExecWait waits.
  ClearErrors
  ExecWait '"$OldUninstaller" /S _?=$OldDir' $0
  ${If} ${Errors}
  ${OrIf} $0 != 0
    MessageBox MB_ICONSTOP "旧版本 $OldVersion 卸载失败（代码 $0）。请在控制面板中卸载后再安装。" /SD IDOK
    Abort "旧版本卸载失败。"
  ${EndIf}
  Delete "$OldUninstaller"
  RMDir "$OldDir"
  DetailPrint "旧版本 $OldVersion 已卸载。"
FunctionEnd

!macro REMOVE_ENTRY_FILES
  ; The stable entry (and, from before versions\, the flat program of the same names).
  RMDir /r "$INSTDIR\_internal"
  Delete "$INSTDIR\${EXE}"
  Delete "$INSTDIR\socialfee-cli.exe"
!macroend

Function WebView2Check
  ; The window is Microsoft Edge WebView2 (Evergreen runtime): machine-wide (both
  ; registry views) or per user. Windows 11 has it; older systems may not.
  ReadRegStr $0 HKLM "SOFTWARE\WOW6432Node\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKLM "SOFTWARE\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
  ${If} $0 == ""
  ${OrIf} $0 == "0.0.0.0"
    ReadRegStr $0 HKCU "Software\Microsoft\EdgeUpdate\Clients\${WEBVIEW2_GUID}" "pv"
  ${EndIf}
  ${If} $0 != ""
  ${AndIf} $0 != "0.0.0.0"
    DetailPrint "已检测到 WebView2 运行时 $0。"
    Return
  ${EndIf}
  DetailPrint "未检测到 WebView2 运行时。"
  ${If} ${Silent}
    Return
  ${EndIf}
!ifdef WEBVIEW2_BOOTSTRAPPER  ; Microsoft's MicrosoftEdgeWebview2Setup.exe, when shipped
  MessageBox MB_YESNO|MB_ICONQUESTION "客户端窗口需要 Microsoft Edge WebView2 运行时，这台电脑上尚未安装。$\r$\n是否现在安装？（需要联网，约 2 分钟）" IDNO done
    SetOutPath "$PLUGINSDIR"
    File "/oname=MicrosoftEdgeWebview2Setup.exe" "${WEBVIEW2_BOOTSTRAPPER}"
    DetailPrint "正在安装 WebView2 运行时…"
    ExecWait '"$PLUGINSDIR\MicrosoftEdgeWebview2Setup.exe" /silent /install' $0
    DetailPrint "WebView2 安装程序结束（代码 $0）。"
    SetOutPath "$INSTDIR"
!else
  MessageBox MB_YESNO|MB_ICONQUESTION "客户端窗口需要 Microsoft Edge WebView2 运行时，这台电脑上尚未安装。$\r$\n是否打开微软的下载页面？安装后即可启动客户端。" IDNO done
    ExecShell "open" "${WEBVIEW2_URL}"
!endif
  done:
FunctionEnd

Section "-program"
  Call WaitNotRunning
  Call RemoveOld
  SetOutPath "$INSTDIR"
  ${If} $Mode == "repair"
    DetailPrint "正在修复：恢复程序文件（数据不受影响）…"
  ${EndIf}
  ; Repair starts from nothing: files a virus scanner damaged or someone added are gone.
  ; Only the entry and this version: other versions (an upgrade's way back) stay.
  !insertmacro REMOVE_ENTRY_FILES
  RMDir /r "$INSTDIR\versions\${VERSION}"
  File /r "${ENTRY}\*"
  SetOutPath "$INSTDIR\versions\${VERSION}"
  File /r /x ".source-digest" "${PAYLOAD}\*"
  SetOutPath "$INSTDIR"
  ; The pointer the entry reads, written whole and then renamed into place.
  FileOpen $0 "$INSTDIR\${POINTER}.tmp" w
  FileWrite $0 '{"version": "${VERSION}", "previous": "", "state": "ok", "since": ""}'
  FileClose $0
  Delete "$INSTDIR\${POINTER}"
  Rename "$INSTDIR\${POINTER}.tmp" "$INSTDIR\${POINTER}"
  Delete "$INSTDIR\rollback.json"  ; an old rollback note is no news after an install
  WriteUninstaller "$INSTDIR\${UNINSTALLER}"

  WriteRegStr HKCU "${UNINST_KEY}" "DisplayName" "${APP_NAME}"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayVersion" "${VERSION}"
  WriteRegStr HKCU "${UNINST_KEY}" "Publisher" "socialfee"
  WriteRegStr HKCU "${UNINST_KEY}" "InstallLocation" "$INSTDIR"
  WriteRegStr HKCU "${UNINST_KEY}" "DisplayIcon" "$INSTDIR\${EXE}"
  WriteRegStr HKCU "${UNINST_KEY}" "UninstallString" '"$INSTDIR\${UNINSTALLER}"'
  WriteRegStr HKCU "${UNINST_KEY}" "QuietUninstallString" '"$INSTDIR\${UNINSTALLER}" /S'
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoModify" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "NoRepair" 1
  WriteRegDWORD HKCU "${UNINST_KEY}" "DesktopShortcut" $WantDesktop
  WriteRegDWORD HKCU "${UNINST_KEY}" "StartMenuShortcut" $WantStartMenu
  ${GetSize} "$INSTDIR" "/S=0K" $0 $1 $2
  IntFmt $0 "0x%08X" $0
  WriteRegDWORD HKCU "${UNINST_KEY}" "EstimatedSize" "$0"

  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "${SM_FOLDER}"
  ${If} $WantDesktop == 1
    CreateShortCut "$DESKTOP\${APP_NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0
  ${EndIf}
  ${If} $WantStartMenu == 1
    CreateDirectory "${SM_FOLDER}"
    CreateShortCut "${SM_FOLDER}\${APP_NAME}.lnk" "$INSTDIR\${EXE}" "" "$INSTDIR\${EXE}" 0
    CreateShortCut "${SM_FOLDER}\卸载 ${APP_NAME}.lnk" "$INSTDIR\${UNINSTALLER}"
  ${EndIf}
  Call WebView2Check
SectionEnd

; -- uninstaller -----------------------------------------------------------------------------
Function un.onInit
  StrCpy $DeleteData 0
  ReadEnvStr $HomeOverride "SOCIALFEE_HOME"
FunctionEnd

Function un.DataPage
  !insertmacro MUI_HEADER_TEXT "卸载 ${APP_NAME}" "将删除 $INSTDIR 中的程序文件和快捷方式"
  nsDialogs::Create 1018
  Pop $0
  ${If} $HomeOverride != ""
    ${NSD_CreateLabel} 0 0 100% 36u "数据目录由环境变量 SOCIALFEE_HOME 指定为 $HomeOverride。卸载程序不会删除它；如需清理，请在确认已备份后手动删除。"
    Pop $0
  ${Else}
    ${NSD_CreateLabel} 0 0 100% 36u "数据保存在 ${DATA_DIR}（数据库、设置、日志和默认备份文件夹中的备份）。默认保留数据：重新安装后可继续使用。如需清理本机数据，请先备份到其他位置，再勾选下面的选项。"
    Pop $0
    ${NSD_CreateCheckbox} 0 44u 100% 12u "同时删除数据"
    Pop $Check1
  ${EndIf}
  GetDlgItem $1 $HWNDPARENT 1
  SendMessage $1 ${WM_SETTEXT} 0 "STR:快速卸载"
  nsDialogs::Show
FunctionEnd

Function un.DataLeave
  StrCpy $DeleteData 0
  ${If} $HomeOverride != ""
    Return
  ${EndIf}
  ${NSD_GetState} $Check1 $0
  ${If} $0 == ${BST_CHECKED}
    ; The second confirmation; the default button keeps the data.
    ${If} ${Cmd} `MessageBox MB_YESNO|MB_ICONEXCLAMATION|MB_DEFBUTTON2 "确定要永久删除 ${DATA_DIR} 中的全部数据吗？$\r$\n包括数据库、设置、日志和默认备份文件夹中的备份，删除后无法恢复。" IDNO`
      ${NSD_Uncheck} $Check1
      Abort  ; back on the page, the box cleared, the data kept
    ${EndIf}
    StrCpy $DeleteData 1
  ${EndIf}
FunctionEnd

Section "Uninstall"
  Call un.WaitNotRunning
  !insertmacro REMOVE_ENTRY_FILES
  ; Every version, the in-app upgrade's too, the pointer and the launcher's notes.
  RMDir /r "$INSTDIR\versions"
  RMDir /r "$INSTDIR\run"
  Delete "$INSTDIR\${POINTER}"
  Delete "$INSTDIR\${POINTER}.tmp"
  Delete "$INSTDIR\rollback.json"
  Delete "$INSTDIR\${UNINSTALLER}"
  RMDir "$INSTDIR"  ; only when empty: never someone else's files
  Delete "$DESKTOP\${APP_NAME}.lnk"
  RMDir /r "${SM_FOLDER}"
  DeleteRegKey HKCU "${UNINST_KEY}"
  ; Silent (an older version removed by a newer installer): data always stays.
  ${If} $DeleteData == 1
  ${AndIf} $LOCALAPPDATA != ""
    DetailPrint "正在删除数据 ${DATA_DIR}…"
    RMDir /r "${DATA_DIR}"
  ${Else}
    DetailPrint "数据已保留。"
  ${EndIf}
SectionEnd
